//! The tokio drivers around [`EndpointCore`]: they move bytes between
//! sockets and the core and sleep until its next deadline. Nothing here
//! decides anything about SIP.
//!
//! * UDP: one socket; each datagram is one message.
//! * TCP: a listener; each connection is cut into messages by
//!   Content-Length ([`frame`]); a connection that sends something whose
//!   length cannot be known, or that is over the size cap, is closed.
//!   Requests to a TCP peer without a connection open one.
//! * The core sits behind a `std::sync::Mutex`: every operation on it is
//!   short and never awaits, and everything it wants sent or told is taken
//!   out before the lock is released.
//!
//! WebSocket (RFC 7118) would be one more reader/writer pair feeding
//! [`SipStack::handle_message`] with `Transport::Ws`; the core does not
//! change.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use switchyard_sip::endpoint::{EndpointConfig, EndpointCore, Event, Peer, Transmit, Transport};
use switchyard_sip::message::Message;
use switchyard_sip::message::framing::{Frame, frame};
use switchyard_sip::transaction::TransactionKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Notify, mpsc};

/// How long a TCP peer may take to finish a message it started, by
/// default.
pub const PARTIAL_MESSAGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What the transaction user receives.
#[derive(Debug)]
pub enum Incoming {
    /// A new request; answer with [`SipStack::respond`].
    Request {
        key: TransactionKey,
        request: Message,
        peer: Peer,
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
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub endpoint: EndpointConfig,
    /// A TCP peer that leaves a message unfinished this long is cut off.
    pub partial_message_timeout: std::time::Duration,
}

impl StackConfig {
    /// UDP and TCP on `addr`, default endpoint settings.
    pub fn on(addr: SocketAddr) -> StackConfig {
        StackConfig {
            udp: addr,
            tcp: addr,
            endpoint: EndpointConfig::default(),
            partial_message_timeout: PARTIAL_MESSAGE_TIMEOUT,
        }
    }
}

struct Inner {
    core: Mutex<EndpointCore>,
    udp: Arc<UdpSocket>,
    local_udp: SocketAddr,
    local_tcp: SocketAddr,
    tcp: Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>>,
    waiters: Mutex<HashMap<TransactionKey, mpsc::UnboundedSender<ClientEvent>>>,
    incoming: mpsc::UnboundedSender<Incoming>,
    timer: Notify,
    /// The deadline the timer task sleeps until (`None`: no deadline).
    /// Locked only inside the core lock, so the two never disagree.
    armed: Mutex<Option<Instant>>,
    partial_timeout: std::time::Duration,
    handler_panics: std::sync::atomic::AtomicU64,
}

/// A running SIP stack (cheap to clone).
#[derive(Clone)]
pub struct SipStack {
    inner: Arc<Inner>,
}

impl SipStack {
    /// Bind UDP and TCP and start the socket and timer tasks.
    pub async fn bind(
        cfg: StackConfig,
    ) -> std::io::Result<(SipStack, mpsc::UnboundedReceiver<Incoming>)> {
        let udp = Arc::new(UdpSocket::bind(cfg.udp).await?);
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
        let mut core = EndpointCore::new(cfg.endpoint);
        core.set_local(Transport::Udp, local_udp.to_string());
        core.set_local(Transport::Tcp, local_tcp.to_string());
        let (tx, rx) = mpsc::unbounded_channel();
        let stack = SipStack {
            inner: Arc::new(Inner {
                core: Mutex::new(core),
                udp,
                local_udp,
                local_tcp,
                tcp: Mutex::new(HashMap::new()),
                waiters: Mutex::new(HashMap::new()),
                incoming: tx,
                timer: Notify::new(),
                armed: Mutex::new(None),
                handler_panics: std::sync::atomic::AtomicU64::new(0),
                partial_timeout: cfg.partial_message_timeout,
            }),
        };
        tokio::spawn(stack.clone().udp_loop());
        tokio::spawn(stack.clone().tcp_accept_loop(listener));
        tokio::spawn(stack.clone().timer_loop());
        Ok((stack, rx))
    }

    pub fn local_addr(&self, transport: Transport) -> SocketAddr {
        match transport {
            Transport::Udp => self.inner.local_udp,
            Transport::Tcp => self.inner.local_tcp,
        }
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
            Transport::Tcp => {
                let sender = self
                    .inner
                    .tcp
                    .lock()
                    .expect("tcp lock")
                    .get(&t.peer.addr)
                    .cloned();
                match sender {
                    Some(s) if s.send(t.bytes.clone()).is_ok() => {}
                    _ => {
                        let stack = self.clone();
                        tokio::spawn(async move {
                            match TcpStream::connect(t.peer.addr).await {
                                Ok(stream) => {
                                    let writer = stack.start_connection(stream, t.peer.addr);
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
            Event::Request { key, request, peer } => Incoming::Request { key, request, peer },
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
                Ok((stream, addr)) => {
                    self.start_connection(stream, addr);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "tcp accept");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Register a connection and start its reader and writer tasks.
    fn start_connection(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
    ) -> mpsc::UnboundedSender<Vec<u8>> {
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        self.inner
            .tcp
            .lock()
            .expect("tcp lock")
            .insert(addr, tx.clone());
        let reader_tx = tx.clone();
        tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if wr.write_all(&bytes).await.is_err() {
                    break;
                }
            }
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
            let peer = Peer {
                transport: Transport::Tcp,
                addr,
            };
            let mut buf: Vec<u8> = Vec::with_capacity(4096);
            let mut chunk = vec![0u8; 16 * 1024];
            'conn: loop {
                // An idle connection may stay (phones keep theirs open
                // between registrations), but half a message may not sit
                // forever: a peer that never finishes one is cut off.
                let read = rd.read(&mut chunk);
                let n = if buf.is_empty() {
                    read.await
                } else {
                    match tokio::time::timeout(stack.inner.partial_timeout, read).await {
                        Ok(r) => r,
                        Err(_) => {
                            tracing::debug!(peer = %addr, "partial message timed out: closing");
                            break;
                        }
                    }
                };
                let n = match n {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                loop {
                    match frame(&buf, max) {
                        Frame::KeepAlive(n) => {
                            buf.drain(..n);
                        }
                        Frame::Message(n) => {
                            stack.handle_message(&buf[..n], peer);
                            buf.drain(..n);
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
            }
            let mut conns = stack.inner.tcp.lock().expect("tcp lock");
            if conns.get(&addr).is_some_and(|s| s.same_channel(&reader_tx)) {
                conns.remove(&addr);
            }
        });
        tx
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
