//! The tokio drivers around [`EndpointCore`]: they move bytes between
//! sockets and the core and sleep until its next deadline. Nothing here
//! decides anything about SIP.
//!
//! * UDP: one socket; each datagram is one message.
//! * TCP and TLS: a listener each; each connection is cut into messages by
//!   Content-Length ([`frame`]); a connection that sends something whose
//!   length cannot be known, or that is over the size cap, is closed.
//!   Requests to a TCP peer without a connection open one; a TLS peer is
//!   reached only down the connection it opened (phones register over
//!   it). How long a message and an idle connection may take, and how
//!   many connections are let in, is decided by [`limits`] (sans-IO);
//!   refused connections are closed at once and counted in [`TcpStats`].
//! * WebSocket (RFC 7118): the HTTP server upgrades the connection and
//!   hands each frame to a [`Flow`]; one frame is one message. The flow
//!   is a connection like the others: under the same caps, and requests
//!   to a browser go down the WebSocket it registered on.
//! * The core sits behind a `std::sync::Mutex`: every operation on it is
//!   short and never awaits, and everything it wants sent or told is taken
//!   out before the lock is released.

pub mod limits;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use limits::TcpLimits;
use limits::{ConnectionClock, ConnectionCounter, Expired, Refused, Slot};

use switchyard_sip::endpoint::{EndpointConfig, EndpointCore, Event, Peer, Transmit, Transport};
use switchyard_sip::message::Message;
use switchyard_sip::message::framing::{Frame, frame};
use switchyard_sip::transaction::TransactionKey;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Notify, mpsc};

/// What the transaction user receives.
#[derive(Debug)]
pub enum Incoming {
    /// A new request; answer with [`SipStack::respond`].
    Request {
        key: TransactionKey,
        request: Message,
        peer: Peer,
        /// When the stack handed it on: the time it then waits for the
        /// transaction user is how far behind that is (overload control).
        received: Instant,
    },
    /// The ACK of a 2xx we sent.
    Ack { request: Message, peer: Peer },
    /// A CANCEL for INVITE `invite` (already answered 200).
    Cancel {
        invite: TransactionKey,
        request: Message,
    },
    /// Our 2xx was never acknowledged.
    AckTimeout { call_id: String, cseq: u32 },
}

/// What a client transaction's owner receives.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    Response(Message),
    /// No final answer in time, or the request could not be sent.
    Timeout,
}

/// Where the stack listens.
#[derive(Clone)]
pub struct StackConfig {
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    /// SIP over TLS: where, and the server's certificate (`None`: no TLS
    /// listener).
    pub tls: Option<(SocketAddr, tokio_rustls::TlsAcceptor)>,
    pub endpoint: EndpointConfig,
    /// Message and idle deadlines and connection caps of connected peers
    /// (TCP, TLS and WebSocket alike).
    pub tcp_limits: TcpLimits,
    /// The address peers reach us at, for our Via and Contact: a host
    /// behind 1:1 NAT (a cloud VM) gives its public address. `None`: the
    /// listening address, or, when that is unspecified (`0.0.0.0`), the
    /// address of the interface the default route uses.
    pub advertised_ip: Option<IpAddr>,
}

impl std::fmt::Debug for StackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackConfig")
            .field("udp", &self.udp)
            .field("tcp", &self.tcp)
            .field("tls", &self.tls.as_ref().map(|(addr, _)| addr))
            .field("endpoint", &self.endpoint)
            .field("tcp_limits", &self.tcp_limits)
            .field("advertised_ip", &self.advertised_ip)
            .finish()
    }
}

impl StackConfig {
    /// UDP and TCP on `addr`, default endpoint settings.
    pub fn on(addr: SocketAddr) -> StackConfig {
        StackConfig {
            udp: addr,
            tcp: addr,
            tls: None,
            endpoint: EndpointConfig::default(),
            tcp_limits: TcpLimits::default(),
            advertised_ip: None,
        }
    }
}

struct Inner {
    core: Mutex<EndpointCore>,
    udp: Arc<UdpSocket>,
    local_udp: SocketAddr,
    local_tcp: SocketAddr,
    local_tls: Option<SocketAddr>,
    /// Where WebSocket flows arrive (the HTTP server's address), for our
    /// Via and Contact; set by the server once it listens.
    local_ws: Mutex<HashMap<Transport, SocketAddr>>,
    /// Open connections by peer: TCP, TLS and WebSocket.
    conns: Mutex<HashMap<Peer, Conn>>,
    /// Connections open, in all and per source address.
    counter: Mutex<ConnectionCounter>,
    stats: Arc<TcpStats>,
    waiters: Mutex<HashMap<TransactionKey, mpsc::UnboundedSender<ClientEvent>>>,
    incoming: mpsc::UnboundedSender<Incoming>,
    timer: Notify,
    /// The deadline the timer task sleeps until (`None`: no deadline).
    /// Locked only inside the core lock, so the two never disagree.
    armed: Mutex<Option<Instant>>,
    handler_panics: std::sync::atomic::AtomicU64,
    tcp_limits: TcpLimits,
    advertised_ip: Option<IpAddr>,
}

/// `addr` as peers should see it: with `advertised` when given, else
/// itself unless its address is unspecified, which no peer can send to;
/// then the address of the interface the default route uses.
fn advertise(advertised: Option<IpAddr>, addr: SocketAddr) -> SocketAddr {
    match advertised {
        Some(ip) => SocketAddr::new(ip, addr.port()),
        None if addr.ip().is_unspecified() => SocketAddr::new(default_route_ip(), addr.port()),
        None => addr,
    }
}

/// The address of the interface the default route uses, found by
/// connecting a UDP socket (which sends nothing); loopback when there is
/// no route.
pub fn default_route_ip() -> IpAddr {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into())
}

/// An open connection, as the senders see it.
struct Conn {
    writer: mpsc::UnboundedSender<Vec<u8>>,
    /// Until when a registration made over it keeps it open; read by the
    /// connection's task whenever its deadline comes.
    keep_until: Arc<Mutex<Option<Instant>>>,
}

/// What happened to TCP connections, for `/metrics`: plain atomics, so the
/// transport needs no metrics library and the renderer reads them at
/// scrape time.
#[derive(Debug, Default)]
pub struct TcpStats {
    open: AtomicU64,
    accepted: AtomicU64,
    refused_total: AtomicU64,
    refused_per_ip: AtomicU64,
    closed_message_timeout: AtomicU64,
    closed_idle: AtomicU64,
    closed_write_stalled: AtomicU64,
    max_connections: AtomicU64,
    max_connections_per_ip: AtomicU64,
}

/// The numbers of [`TcpStats`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpStatsSnapshot {
    /// Connections open now (accepted and our own).
    pub open: u64,
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections closed at once because all connections were taken.
    pub refused_total: u64,
    /// Connections closed at once because their source address had all it
    /// may have.
    pub refused_per_ip: u64,
    /// Connections closed because a message was not finished in time.
    pub closed_message_timeout: u64,
    /// Connections closed after the idle time.
    pub closed_idle: u64,
    /// Connections closed because the peer did not take our bytes in time.
    pub closed_write_stalled: u64,
    /// The caps in force.
    pub max_connections: u64,
    pub max_connections_per_ip: u64,
}

impl TcpStats {
    pub fn snapshot(&self) -> TcpStatsSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TcpStatsSnapshot {
            open: get(&self.open),
            accepted: get(&self.accepted),
            refused_total: get(&self.refused_total),
            refused_per_ip: get(&self.refused_per_ip),
            closed_message_timeout: get(&self.closed_message_timeout),
            closed_idle: get(&self.closed_idle),
            closed_write_stalled: get(&self.closed_write_stalled),
            max_connections: get(&self.max_connections),
            max_connections_per_ip: get(&self.max_connections_per_ip),
        }
    }
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// A connection's place under the caps, given back when its task ends
/// (however it ends, so a count cannot leak).
struct Admission {
    inner: Arc<Inner>,
    slot: Option<Slot>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.inner
                .counter
                .lock()
                .expect("counter lock")
                .release(slot);
            self.inner.stats.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A running SIP stack (cheap to clone).
#[derive(Clone)]
pub struct SipStack {
    inner: Arc<Inner>,
}

/// The SIP UDP socket's receive buffer we ask for. Calls arrive in
/// bursts (a SIPp step's start, a trunk's busy hour, phones re-registering
/// after an outage), and whatever the kernel's default buffer (208 KiB
/// here) cannot hold while the reader is busy is dropped: at 800 call
/// setups a second the bench lost ~2,400 datagrams a step to it, and each
/// lost one is a retransmission half a second later or a failed call.
/// Kamailio and FreeSWITCH raise theirs the same way. The kernel caps it at
/// `net.core.rmem_max` (then this is what an operator raises).
const UDP_RECEIVE_BUFFER: usize = 8 << 20;

/// Ask for [`UDP_RECEIVE_BUFFER`]; say what the kernel granted.
fn widen_receive_buffer(udp: &UdpSocket) {
    let sock = socket2::SockRef::from(udp);
    let before = sock.recv_buffer_size().unwrap_or(0);
    if let Err(e) = sock.set_recv_buffer_size(UDP_RECEIVE_BUFFER) {
        tracing::warn!(error = %e, "the SIP UDP receive buffer stays at the kernel's default");
        return;
    }
    let now = sock.recv_buffer_size().unwrap_or(0);
    // Linux doubles what it grants (half is its bookkeeping).
    if now < UDP_RECEIVE_BUFFER {
        tracing::info!(
            granted_kib = now / 1024,
            wanted_kib = UDP_RECEIVE_BUFFER * 2 / 1024,
            "SIP UDP receive buffer capped by net.core.rmem_max: raise it for bursts of calls"
        );
    } else {
        tracing::debug!(
            before_kib = before / 1024,
            now_kib = now / 1024,
            "SIP UDP receive buffer"
        );
    }
}

impl SipStack {
    /// Bind UDP and TCP and start the socket and timer tasks.
    pub async fn bind(
        cfg: StackConfig,
    ) -> std::io::Result<(SipStack, mpsc::UnboundedReceiver<Incoming>)> {
        let udp = Arc::new(UdpSocket::bind(cfg.udp).await?);
        widen_receive_buffer(&udp);
        let local_udp = udp.local_addr()?;
        // Same port for TCP when the UDP port was picked by the OS.
        let tcp_addr = if cfg.tcp.port() == 0 && cfg.udp.port() == 0 {
            SocketAddr::new(cfg.tcp.ip(), local_udp.port())
        } else {
            cfg.tcp
        };
        let listener = match TcpListener::bind(tcp_addr).await {
            Ok(l) => l,
            Err(_) if cfg.tcp.port() == 0 => TcpListener::bind(cfg.tcp).await?,
            Err(e) => return Err(e),
        };
        let local_tcp = listener.local_addr()?;
        let tls = match cfg.tls {
            Some((addr, acceptor)) => Some((TcpListener::bind(addr).await?, acceptor)),
            None => None,
        };
        let local_tls = match &tls {
            Some((l, _)) => Some(l.local_addr()?),
            None => None,
        };
        let advertised = |addr: SocketAddr| advertise(cfg.advertised_ip, addr);
        let mut core = EndpointCore::new(cfg.endpoint);
        core.set_local(Transport::Udp, advertised(local_udp).to_string());
        core.set_local(Transport::Tcp, advertised(local_tcp).to_string());
        if let Some(addr) = local_tls {
            core.set_local(Transport::Tls, advertised(addr).to_string());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let stack = SipStack {
            inner: Arc::new(Inner {
                core: Mutex::new(core),
                udp,
                local_udp,
                local_tcp,
                local_tls,
                local_ws: Mutex::new(HashMap::new()),
                conns: Mutex::new(HashMap::new()),
                counter: Mutex::new(ConnectionCounter::new(&cfg.tcp_limits)),
                stats: Arc::new(TcpStats {
                    max_connections: AtomicU64::new(cfg.tcp_limits.max_connections as u64),
                    max_connections_per_ip: AtomicU64::new(
                        cfg.tcp_limits.max_connections_per_ip as u64,
                    ),
                    ..TcpStats::default()
                }),
                waiters: Mutex::new(HashMap::new()),
                incoming: tx,
                timer: Notify::new(),
                armed: Mutex::new(None),
                handler_panics: std::sync::atomic::AtomicU64::new(0),
                tcp_limits: cfg.tcp_limits,
                advertised_ip: cfg.advertised_ip,
            }),
        };
        tokio::spawn(stack.clone().udp_loop());
        tokio::spawn(stack.clone().tcp_accept_loop(listener));
        if let Some((listener, acceptor)) = tls {
            tokio::spawn(stack.clone().tls_accept_loop(listener, acceptor));
        }
        tokio::spawn(stack.clone().timer_loop());
        Ok((stack, rx))
    }

    /// Where `transport` is served: for TLS and WebSocket, `None` when
    /// not served.
    pub fn served(&self, transport: Transport) -> Option<SocketAddr> {
        match transport {
            Transport::Udp => Some(self.inner.local_udp),
            Transport::Tcp => Some(self.inner.local_tcp),
            Transport::Tls => self.inner.local_tls,
            Transport::Ws | Transport::Wss => self
                .inner
                .local_ws
                .lock()
                .expect("ws lock")
                .get(&transport)
                .copied(),
        }
    }

    /// Where `transport` is served; UDP's address for one not served.
    pub fn local_addr(&self, transport: Transport) -> SocketAddr {
        self.served(transport).unwrap_or(self.inner.local_udp)
    }

    /// The HTTP server takes WebSocket flows of `transport` on `addr`
    /// (our Via and Contact name it).
    pub fn serve_websocket(&self, transport: Transport, addr: SocketAddr) {
        self.inner
            .local_ws
            .lock()
            .expect("ws lock")
            .insert(transport, addr);
        let advertised = advertise(self.inner.advertised_ip, addr);
        self.with_core(|core, _| core.set_local(transport, advertised.to_string()));
    }

    /// Where peers reach `transport`, for our Contact: its
    /// [`local_addr`](Self::local_addr) with the advertised address (see
    /// [`StackConfig::advertised_ip`]).
    pub fn advertised_addr(&self, transport: Transport) -> SocketAddr {
        advertise(self.inner.advertised_ip, self.local_addr(transport))
    }

    /// TCP connection counts, for `/metrics`.
    pub fn tcp_stats(&self) -> Arc<TcpStats> {
        self.inner.stats.clone()
    }

    /// The largest SIP message taken (WebSocket frames are capped to it).
    pub fn max_message_size(&self) -> usize {
        self.inner
            .core
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .config()
            .max_message_size
    }

    /// The TCP limits in force.
    pub fn tcp_limits(&self) -> TcpLimits {
        self.inner.tcp_limits
    }

    /// Keep the connection of `peer` open while idle until `until` (a
    /// registration made over it lives until then, and requests to the
    /// phone go over it); `None` gives it back to the idle limit. Nothing
    /// happens when there is no such connection.
    pub fn keep_open(&self, peer: Peer, until: Option<Instant>) {
        if let Some(c) = self.inner.conns.lock().expect("conns lock").get(&peer) {
            *c.keep_until.lock().expect("keep lock") = until;
        }
    }

    /// Whether a connection to `peer` is open (UDP: always).
    pub fn is_open(&self, peer: Peer) -> bool {
        peer.transport == Transport::Udp
            || self
                .inner
                .conns
                .lock()
                .expect("conns lock")
                .contains_key(&peer)
    }

    /// Live transactions (metrics, tests).
    pub fn transactions(&self) -> usize {
        self.inner.core.lock().expect("core lock").transactions()
    }

    /// Send `req` in a new client transaction; its responses (or a timeout)
    /// arrive on the returned channel. The key names the transaction (for
    /// [`SipStack::cancel`]).
    pub fn send_request(
        &self,
        req: Message,
        peer: Peer,
    ) -> (TransactionKey, mpsc::UnboundedReceiver<ClientEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let key = self.with_core(|core, now| {
            let key = core.send_request(now, req, peer);
            self.inner
                .waiters
                .lock()
                .expect("waiters lock")
                .insert(key.clone(), tx);
            key
        });
        (key, rx)
    }

    /// Cancel our INVITE `invite`; the INVITE's own channel then receives
    /// its 487. The CANCEL's answer is not reported.
    pub fn cancel(&self, invite: &TransactionKey) {
        self.with_core(|core, now| {
            core.cancel(now, invite);
        });
    }

    /// Answer server transaction `key`.
    pub fn respond(&self, key: &TransactionKey, resp: Message) {
        self.with_core(|core, now| core.respond(now, key, resp));
    }

    /// Send the ACK for a 2xx.
    pub fn send_ack(&self, ack: Message, peer: Peer) {
        self.with_core(|core, now| core.send_ack(now, ack, peer));
    }

    /// Feed one message that arrived from `peer`. A panic while handling
    /// it drops that message and is counted ([`SipStack::handler_panics`]);
    /// the socket loops go on.
    pub fn handle_message(&self, bytes: &[u8], peer: Peer) {
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.with_core(|core, now| core.handle_message(now, bytes, peer))
        }));
        if handled.is_err() {
            self.inner
                .handler_panics
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(source = %peer.addr, len = bytes.len(), "handling a SIP message panicked: dropped");
        }
    }

    /// Messages whose handling panicked (and were dropped) so far.
    pub fn handler_panics(&self) -> u64 {
        self.inner
            .handler_panics
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Run `f` on the core, then send and deliver what it produced.
    fn with_core<R>(&self, f: impl FnOnce(&mut EndpointCore, Instant) -> R) -> R {
        let (r, transmits, events) = {
            // A poisoned lock (a panic while handling one message) must not stop
            // every later message: the core's tables stay usable.
            let mut core = self.inner.core.lock().unwrap_or_else(|p| p.into_inner());
            let r = f(&mut core, Instant::now());
            let transmits: Vec<Transmit> = std::iter::from_fn(|| core.poll_transmit()).collect();
            let events: Vec<Event> = std::iter::from_fn(|| core.poll_event()).collect();
            // Wake the timer task only when its deadline must come
            // earlier: most messages only push deadlines later or leave
            // them, and waking another task per message costs a thread
            // wake-up each (it showed as futex time in the profile). A
            // deadline that passes meanwhile fires late by nothing: the
            // task sleeps until the armed one and looks again.
            let next = core.poll_timeout();
            let mut armed = self.inner.armed.lock().expect("armed lock");
            let earlier = match (next, *armed) {
                (Some(n), Some(a)) => n < a,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if earlier {
                *armed = next;
                self.inner.timer.notify_one();
            }
            (r, transmits, events)
        };
        for t in transmits {
            self.transmit(t);
        }
        for e in events {
            self.deliver(e);
        }
        r
    }

    fn transmit(&self, t: Transmit) {
        match t.peer.transport {
            Transport::Udp => {
                if let Err(e) = self.inner.udp.try_send_to(&t.bytes, t.peer.addr) {
                    if e.kind() == std::io::ErrorKind::WouldBlock {
                        let udp = self.inner.udp.clone();
                        tokio::spawn(async move {
                            let _ = udp.send_to(&t.bytes, t.peer.addr).await;
                        });
                    } else {
                        tracing::debug!(peer = %t.peer.addr, error = %e, "udp send failed");
                    }
                }
            }
            transport => {
                let sender = self
                    .inner
                    .conns
                    .lock()
                    .expect("conns lock")
                    .get(&t.peer)
                    .map(|c| c.writer.clone());
                match sender {
                    Some(s) if s.send(t.bytes.clone()).is_ok() => {}
                    // A TLS or WebSocket peer is reached down the
                    // connection it opened; we do not dial it.
                    _ if transport != Transport::Tcp => {
                        tracing::debug!(peer = %t.peer.addr, %transport, "no connection open to the peer: not sent");
                    }
                    _ => {
                        let stack = self.clone();
                        tokio::spawn(async move {
                            // Our own connections take descriptors too.
                            let Some(admission) = stack.admit(None) else {
                                tracing::warn!(peer = %t.peer.addr, "tcp connection cap reached: not connecting");
                                return;
                            };
                            match TcpStream::connect(t.peer.addr).await {
                                Ok(stream) => {
                                    let _ = stream.set_nodelay(true);
                                    let writer = stack.start_connection(stream, t.peer, admission);
                                    let _ = writer.send(t.bytes);
                                }
                                Err(e) => {
                                    tracing::debug!(peer = %t.peer.addr, error = %e, "tcp connect failed")
                                }
                            }
                        });
                    }
                }
            }
        }
    }

    fn deliver(&self, e: Event) {
        let to_tu = match e {
            Event::Request { key, request, peer } => Incoming::Request {
                key,
                request,
                peer,
                received: Instant::now(),
            },
            Event::Ack { request, peer } => Incoming::Ack { request, peer },
            Event::Cancel { invite, request } => Incoming::Cancel { invite, request },
            Event::AckTimeout { call_id, cseq } => Incoming::AckTimeout { call_id, cseq },
            Event::Response { key, response } => {
                let mut waiters = self.inner.waiters.lock().expect("waiters lock");
                let last = response.status() >= 200;
                if let Some(w) = waiters.get(&key) {
                    let _ = w.send(ClientEvent::Response(response));
                }
                if last {
                    waiters.remove(&key);
                }
                return;
            }
            Event::Timeout { key } => {
                if let Some(w) = self
                    .inner
                    .waiters
                    .lock()
                    .expect("waiters lock")
                    .remove(&key)
                {
                    let _ = w.send(ClientEvent::Timeout);
                }
                return;
            }
            Event::Refused {
                peer,
                status,
                reason,
            } => {
                tracing::debug!(peer = %peer.addr, transport = %peer.transport, ?status, %reason, "refused");
                return;
            }
        };
        let _ = self.inner.incoming.send(to_tu);
    }

    async fn udp_loop(self) {
        let mut buf = vec![0u8; 65_536];
        loop {
            match self.inner.udp.recv_from(&mut buf).await {
                Ok((n, addr)) => self.handle_message(
                    &buf[..n],
                    Peer {
                        transport: Transport::Udp,
                        addr,
                    },
                ),
                // ICMP port unreachable shows up as an error on some
                // systems: keep serving.
                Err(e) => tracing::debug!(error = %e, "udp recv"),
            }
        }
    }

    async fn tcp_accept_loop(self, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, addr)) => match self.admit(Some(addr)) {
                    Some(admission) => {
                        bump(&self.inner.stats.accepted);
                        let _ = stream.set_nodelay(true);
                        let peer = Peer {
                            transport: Transport::Tcp,
                            addr,
                        };
                        self.start_connection(stream, peer, admission);
                    }
                    // Closed at once (the stream is dropped): a refused
                    // peer holds no descriptor and no task.
                    None => drop(stream),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "tcp accept");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    async fn tls_accept_loop(self, listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor) {
        loop {
            let (stream, addr) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "tls accept");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(admission) = self.admit(Some(addr)) else {
                continue;
            };
            bump(&self.inner.stats.accepted);
            let _ = stream.set_nodelay(true);
            let stack = self.clone();
            let acceptor = acceptor.clone();
            // The handshake runs on its own task, under the same deadline
            // as a message: a peer that stalls it holds nothing else up.
            tokio::spawn(async move {
                let limit = stack.inner.tcp_limits.message_timeout;
                match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        let peer = Peer {
                            transport: Transport::Tls,
                            addr,
                        };
                        stack.start_connection(tls, peer, admission);
                    }
                    Ok(Err(e)) => {
                        tracing::info!(peer = %addr, error = %e, "TLS handshake failed: closed");
                    }
                    Err(_) => {
                        bump(&stack.inner.stats.closed_message_timeout);
                        tracing::debug!(peer = %addr, "TLS handshake not finished in time: closed");
                    }
                }
            });
        }
    }

    /// A WebSocket (or other message-framed connection) the HTTP server
    /// accepted from `addr`: it feeds the flow each message it receives
    /// and writes what the flow gives it. `None` when the connection caps
    /// are full (the server refuses the upgrade).
    pub fn open_flow(&self, transport: Transport, addr: SocketAddr) -> Option<Flow> {
        let admission = self.admit(Some(addr))?;
        bump(&self.inner.stats.accepted);
        let peer = Peer { transport, addr };
        let (tx, rx) = mpsc::unbounded_channel();
        let keep_until = Arc::new(Mutex::new(None));
        self.inner.conns.lock().expect("conns lock").insert(
            peer,
            Conn {
                writer: tx.clone(),
                keep_until: keep_until.clone(),
            },
        );
        Some(Flow {
            stack: self.clone(),
            peer,
            writer: tx,
            outgoing: rx,
            keep_until,
            last_message: Instant::now(),
            _admission: admission,
        })
    }

    /// A place under the connection caps for a connection accepted from
    /// `from` (`None`: one we open), or `None` (counted) when refused.
    fn admit(&self, from: Option<SocketAddr>) -> Option<Admission> {
        let admitted = {
            let mut counter = self.inner.counter.lock().expect("counter lock");
            match from {
                Some(addr) => counter.admit(addr.ip()),
                None => counter.admit_outbound(),
            }
        };
        match admitted {
            Ok(slot) => {
                bump(&self.inner.stats.open);
                Some(Admission {
                    inner: self.inner.clone(),
                    slot: Some(slot),
                })
            }
            Err(why) => {
                let stats = &self.inner.stats;
                bump(match why {
                    Refused::Total => &stats.refused_total,
                    Refused::PerAddress => &stats.refused_per_ip,
                });
                // Debug only: under a flood this would be one line per
                // attempt; the counters tell the operator.
                tracing::debug!(peer = ?from, ?why, "tcp connection refused: cap reached");
                None
            }
        }
    }

    /// Register a stream connection (TCP or TLS) and start its reader and
    /// writer tasks; the connection keeps `admission` until it closes.
    fn start_connection<S>(
        &self,
        stream: S,
        peer: Peer,
        admission: Admission,
    ) -> mpsc::UnboundedSender<Vec<u8>>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let addr = peer.addr;
        let (mut rd, mut wr) = tokio::io::split(stream);
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let keep_until = Arc::new(Mutex::new(None));
        self.inner.conns.lock().expect("conns lock").insert(
            peer,
            Conn {
                writer: tx.clone(),
                keep_until: keep_until.clone(),
            },
        );
        let reader_tx = tx.clone();
        let limits = self.inner.tcp_limits;
        let mut writer = tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                // A peer that does not take what we send holds the
                // descriptor and lets the queue grow: it gets as long as a
                // peer gets to send a message.
                match tokio::time::timeout(limits.message_timeout, wr.write_all(&bytes)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return false,
                    Err(_) => return true,
                }
            }
            false
        });
        let stack = self.clone();
        let max = self
            .inner
            .core
            .lock()
            .expect("core lock")
            .config()
            .max_message_size;
        tokio::spawn(async move {
            let _admission = admission;
            let stats = &stack.inner.stats;
            let mut buf: Vec<u8> = Vec::with_capacity(4096);
            let mut chunk = vec![0u8; 16 * 1024];
            let mut clock = ConnectionClock::new(Instant::now(), &limits);
            let mut writer_done = false;
            'conn: loop {
                clock.keep_open_until(*keep_until.lock().expect("keep lock"));
                if let Some(why) = clock.expired(Instant::now()) {
                    bump(match why {
                        Expired::Message => &stats.closed_message_timeout,
                        Expired::Idle => &stats.closed_idle,
                    });
                    tracing::debug!(peer = %addr, ?why, "tcp deadline passed: closing");
                    break;
                }
                let deadline = clock.deadline();
                let sleep = async move {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d.into()).await,
                        None => std::future::pending().await,
                    }
                };
                let n = tokio::select! {
                    r = rd.read(&mut chunk) => r,
                    // Look again at the top: a registration may have
                    // moved the deadline meanwhile.
                    () = sleep => continue,
                    stalled = &mut writer => {
                        writer_done = true;
                        if stalled.unwrap_or(false) {
                            bump(&stats.closed_write_stalled);
                            tracing::debug!(peer = %addr, "tcp peer does not read: closing");
                        }
                        break;
                    }
                };
                let n = match n {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                let mut finished = false;
                loop {
                    match frame(&buf, max) {
                        Frame::KeepAlive(n) => {
                            buf.drain(..n);
                            finished = true;
                        }
                        Frame::Message(n) => {
                            stack.handle_message(&buf[..n], peer);
                            buf.drain(..n);
                            finished = true;
                        }
                        Frame::Incomplete => break,
                        bad @ (Frame::TooLarge | Frame::Invalid) => {
                            // Whatever follows cannot be framed: answer
                            // what can be answered (513 / 400), then hang up.
                            let status = if bad == Frame::TooLarge { 513 } else { 400 };
                            let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n");
                            let head = &buf[..head_end.map_or(buf.len().min(max), |e| e + 4)];
                            stack.with_core(|core, _| core.reject_unframed(head, status, peer));
                            break 'conn;
                        }
                    }
                }
                clock.received(Instant::now(), finished, !buf.is_empty());
            }
            stack.forget_connection(peer, &reader_tx);
            // Let the answer to a rejected message go out, but not for
            // longer than a write may take; then the descriptor is freed
            // before the admission is given back.
            drop(reader_tx);
            if !writer_done {
                let _ = tokio::time::timeout(limits.message_timeout, &mut writer).await;
                writer.abort();
            }
        });
        tx
    }

    /// Take `peer`'s connection out of the table, if it is still the one
    /// `writer` writes to (a newer one from the same address stays).
    fn forget_connection(&self, peer: Peer, writer: &mpsc::UnboundedSender<Vec<u8>>) {
        let mut conns = self.inner.conns.lock().expect("conns lock");
        if conns
            .get(&peer)
            .is_some_and(|c| c.writer.same_channel(writer))
        {
            conns.remove(&peer);
        }
    }

    async fn timer_loop(self) {
        loop {
            let next = {
                // A poisoned lock (a panic while handling one message) must not stop
                // every later message: the core's tables stay usable.
                let mut core = self.inner.core.lock().unwrap_or_else(|p| p.into_inner());
                let next = core.poll_timeout();
                *self.inner.armed.lock().expect("armed lock") = next;
                next
            };
            match next {
                Some(at) => {
                    let at = tokio::time::Instant::from_std(at);
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = self.inner.timer.notified() => continue,
                    }
                }
                None => {
                    self.inner.timer.notified().await;
                    continue;
                }
            }
            self.with_core(|core, now| core.handle_timeout(now));
        }
    }
}

/// A message-framed connection (a WebSocket) whose reading and writing
/// someone else does: what it receives goes to [`Flow::receive`], what the
/// stack sends it comes out of [`Flow::outgoing`]. Dropping it closes the
/// flow: it leaves the connection table and gives back its place under
/// the caps.
pub struct Flow {
    stack: SipStack,
    peer: Peer,
    writer: mpsc::UnboundedSender<Vec<u8>>,
    outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
    /// Until when a registration made over it keeps it open.
    keep_until: Arc<Mutex<Option<Instant>>>,
    last_message: Instant,
    _admission: Admission,
}

impl Flow {
    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// One message arrived (one WebSocket frame holds one message, RFC
    /// 7118 §5.1). A keep-alive of blank lines is ignored; one over the
    /// size cap is answered 513 where it can be.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.last_message = Instant::now();
        if bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            return;
        }
        let max = self
            .stack
            .inner
            .core
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .config()
            .max_message_size;
        if bytes.len() > max {
            let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n");
            let head = &bytes[..head_end.map_or(max, |e| e + 4)];
            let peer = self.peer;
            self.stack
                .with_core(|core, _| core.reject_unframed(head, 513, peer));
            return;
        }
        self.stack.handle_message(bytes, self.peer);
    }

    /// When the flow is to be closed as idle: the idle limit after its
    /// last message, or later while a registration made over it lives.
    pub fn idle_deadline(&self) -> Instant {
        let idle = self.last_message + self.stack.inner.tcp_limits.idle_timeout;
        match *self.keep_until.lock().expect("keep lock") {
            Some(until) => idle.max(until),
            None => idle,
        }
    }

    /// Count a flow closed because it was idle.
    pub fn closed_idle(&self) {
        bump(&self.stack.inner.stats.closed_idle);
    }

    /// The next message to send to the peer; `None` never comes while the
    /// flow lives (the flow holds a sender itself).
    pub async fn outgoing(&mut self) -> Option<Vec<u8>> {
        self.outgoing.recv().await
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.stack.forget_connection(self.peer, &self.writer);
    }
}
