//! RTP ports from the configured range: an even port for RTP and the next
//! one for RTCP (RFC 3550 §11), both bound before they are handed out, so
//! a port another process holds is skipped rather than failing a call.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

/// A bound RTP/RTCP socket pair. The pair counts as in use in its pool
/// until it is dropped (the sockets close then).
#[derive(Debug)]
pub struct RtpPorts {
    /// Shared: a conference room sends on it while its call lends it.
    pub rtp: Arc<UdpSocket>,
    pub rtcp: UdpSocket,
    _held: Held,
}

/// One pair's place in its pool's count of pairs in use.
#[derive(Debug)]
struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl RtpPorts {
    pub fn rtp_addr(&self) -> SocketAddr {
        self.rtp.local_addr().expect("bound socket")
    }
}

/// The pool; allocation walks the range from where it last stopped.
#[derive(Debug)]
pub struct PortPool {
    ip: IpAddr,
    low: u16,
    high: u16,
    next: Mutex<u16>,
    /// Pairs handed out and not yet dropped: what an operator (and a test)
    /// reads to see that ended calls gave their ports back.
    in_use: Arc<AtomicUsize>,
}

impl PortPool {
    /// Ports `low..=high` on `ip` (`low` is rounded up to even).
    pub fn new(ip: IpAddr, low: u16, high: u16) -> PortPool {
        let low = low + low % 2;
        PortPool {
            ip,
            low,
            high,
            next: Mutex::new(low),
            in_use: Arc::default(),
        }
    }

    /// Pairs held by calls right now.
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Bind the next free pair.
    pub async fn allocate(&self) -> std::io::Result<RtpPorts> {
        self.allocate_now()
    }

    /// Bind the next free pair without waiting (binding a UDP socket never
    /// blocks): for state machines that need a leg's address at once.
    /// Call it inside a tokio runtime.
    pub fn allocate_now(&self) -> std::io::Result<RtpPorts> {
        let span = u32::from(self.high.saturating_sub(self.low)) / 2 + 1;
        for _ in 0..span {
            let port = {
                let mut next = self.next.lock().expect("port pool lock");
                let p = *next;
                *next = if p.saturating_add(2) > self.high.saturating_sub(1) {
                    self.low
                } else {
                    p + 2
                };
                p
            };
            let Ok(rtp) = bind(self.ip, port) else {
                continue;
            };
            let Ok(rtcp) = bind(self.ip, port + 1) else {
                continue;
            };
            self.in_use.fetch_add(1, Ordering::Relaxed);
            return Ok(RtpPorts {
                rtp: Arc::new(rtp),
                rtcp,
                _held: Held(self.in_use.clone()),
            });
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("no free RTP port pair in {}-{}", self.low, self.high),
        ))
    }
}

/// A non-blocking UDP socket on `ip:port`, registered with the runtime.
fn bind(ip: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    let s = std::net::UdpSocket::bind((ip, port))?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s)
}
