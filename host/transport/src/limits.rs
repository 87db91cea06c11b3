//! What a TCP peer may hold, decided without IO: how long a message may
//! take, how long a connection may sit idle, and how many connections are
//! let in. The tokio driver asks these with the current time and acts on
//! the answer; the tests drive them with a made-up clock.
//!
//! Why a deadline for the whole message and not per read: a timeout
//! restarted by every byte lets a peer that sends one byte a second keep a
//! connection (and its buffer) for ever. Why caps: every connection is a
//! descriptor, and when the process runs out of descriptors the HTTP API
//! and the RTP ports stop too.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// From the first byte of a message to its last, by default. Kamailio's
/// `tcp_msg_read_timeout` is the same 20 s; a real message takes
/// milliseconds, and even 64 KiB over a 64 kbit/s link takes 8 s.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a connection may carry nothing (not even an RFC 5626 CRLF
/// keep-alive) between messages, by default. RFC 5626 §4.4.1 has clients
/// send keep-alives every 95–120 s on connection-oriented transports, so
/// the limit must be above that; a registered phone's connection is kept
/// at least as long as its registration ([`ConnectionClock::keep_open_until`]).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// All TCP SIP connections, by default (lowered at start when the
/// descriptor limit cannot hold them beside the RTP ports and the API).
pub const MAX_CONNECTIONS: usize = 2048;
/// Connections from one source address (one IPv6 /64), by default: room
/// for an office of phones behind one NAT address, while one attacker
/// holds at most 1/32 of the total.
pub const MAX_CONNECTIONS_PER_IP: usize = 64;

/// The limits on TCP peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// A message must arrive whole within this time of its first byte.
    pub message_timeout: Duration,
    /// A connection with nothing unfinished is closed after this long
    /// without bytes from the peer (unless a registration keeps it).
    pub idle_timeout: Duration,
    /// Connections in all (accepted and opened by us).
    pub max_connections: usize,
    /// Accepted connections from one source address.
    pub max_connections_per_ip: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            message_timeout: MESSAGE_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_connections_per_ip: MAX_CONNECTIONS_PER_IP,
        }
    }
}

/// Why a connection's time is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// A message was started and not finished in time.
    Message,
    /// Nothing arrived for the idle time.
    Idle,
}

/// The deadlines of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionClock {
    message_timeout: Duration,
    idle_timeout: Duration,
    /// When the first byte of the unfinished message arrived.
    message_started: Option<Instant>,
    last_received: Instant,
    /// A registration made over this connection lives until then.
    keep_until: Option<Instant>,
}

impl ConnectionClock {
    pub fn new(now: Instant, limits: &TcpLimits) -> ConnectionClock {
        ConnectionClock {
            message_timeout: limits.message_timeout,
            idle_timeout: limits.idle_timeout,
            message_started: None,
            last_received: now,
            keep_until: None,
        }
    }

    /// Bytes arrived at `now` and were cut into messages: `finished` says
    /// whether at least one message (or keep-alive) was taken out,
    /// `pending` whether an unfinished message is left in the buffer.
    pub fn received(&mut self, now: Instant, finished: bool, pending: bool) {
        self.last_received = now;
        // The message clock restarts only when a message ends: more bytes
        // of the same message do not buy more time.
        if finished || !pending {
            self.message_started = None;
        }
        if pending && self.message_started.is_none() {
            self.message_started = Some(now);
        }
    }

    /// Keep the connection, idle or not, until `until` (a registration
    /// lives until then; requests to the phone reuse this connection).
    /// A later call replaces it, so an unregister can shorten it.
    pub fn keep_open_until(&mut self, until: Option<Instant>) {
        self.keep_until = until;
    }

    /// When the connection's time is up if nothing changes (`None`: never,
    /// the limit is too large to count).
    pub fn deadline(&self) -> Option<Instant> {
        match self.message_started {
            // A registration does not excuse an unfinished message.
            Some(started) => started.checked_add(self.message_timeout),
            None => {
                let idle = self.last_received.checked_add(self.idle_timeout)?;
                Some(self.keep_until.map_or(idle, |k| k.max(idle)))
            }
        }
    }

    /// Whether the connection's time is up at `now`.
    pub fn expired(&self, now: Instant) -> Option<Expired> {
        let deadline = self.deadline()?;
        (now >= deadline).then_some(if self.message_started.is_some() {
            Expired::Message
        } else {
            Expired::Idle
        })
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// All connections are taken.
    Total,
    /// The source address has all it may have.
    PerAddress,
}

/// One admitted connection's place; give it back with
/// [`ConnectionCounter::release`] (not `Clone`, so it is given back once).
#[derive(Debug)]
pub struct Slot {
    source: Option<IpAddr>,
}

/// How many connections are open, in all and per source address.
#[derive(Debug)]
pub struct ConnectionCounter {
    max_total: usize,
    max_per_source: usize,
    total: usize,
    per_source: HashMap<IpAddr, usize>,
}

impl ConnectionCounter {
    pub fn new(limits: &TcpLimits) -> ConnectionCounter {
        ConnectionCounter {
            max_total: limits.max_connections,
            max_per_source: limits.max_connections_per_ip,
            total: 0,
            per_source: HashMap::new(),
        }
    }

    /// Let in a connection accepted from `ip`, or say why not.
    pub fn admit(&mut self, ip: IpAddr) -> Result<Slot, Refused> {
        if self.total >= self.max_total {
            return Err(Refused::Total);
        }
        let source = source_key(ip);
        let n = self.per_source.entry(source).or_insert(0);
        if *n >= self.max_per_source {
            return Err(Refused::PerAddress);
        }
        *n += 1;
        self.total += 1;
        Ok(Slot {
            source: Some(source),
        })
    }

    /// Let in a connection we open ourselves (to a trunk, or to a phone
    /// whose connection is gone): it takes a descriptor like any other,
    /// but is not the remote address's doing, so only the total counts.
    pub fn admit_outbound(&mut self) -> Result<Slot, Refused> {
        if self.total >= self.max_total {
            return Err(Refused::Total);
        }
        self.total += 1;
        Ok(Slot { source: None })
    }

    /// A connection closed.
    pub fn release(&mut self, slot: Slot) {
        self.total = self.total.saturating_sub(1);
        if let Some(source) = slot.source
            && let Some(n) = self.per_source.get_mut(&source)
        {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&source);
            }
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.total
    }

    /// Connections open now from `ip`'s source address.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        self.per_source.get(&source_key(ip)).copied().unwrap_or(0)
    }
}

/// What counts as one source: an IPv4 address (also when written as an
/// IPv4-mapped IPv6 one), or an IPv6 /64 — one subscriber usually gets a
/// whole /64, so counting single IPv6 addresses would not limit anyone.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> TcpLimits {
        TcpLimits {
            message_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(300),
            max_connections: 4,
            max_connections_per_ip: 2,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_message_dripped_a_byte_at_a_time_runs_out_of_time() {
        let t0 = Instant::now();
        let mut clock = ConnectionClock::new(t0, &limits());
        // One byte a second, never finishing: each byte is activity, but
        // the message clock keeps counting from the first.
        for s in 0..20 {
            clock.received(t0 + secs(s), false, true);
            assert_eq!(clock.expired(t0 + secs(s)), None, "at {s} s");
        }
        assert_eq!(clock.deadline(), Some(t0 + secs(20)));
        assert_eq!(clock.expired(t0 + secs(20)), Some(Expired::Message));
    }

    #[test]
    fn finishing_a_message_restarts_the_clock_for_the_next() {
        let t0 = Instant::now();
        let mut clock = ConnectionClock::new(t0, &limits());
        clock.received(t0, false, true);
        // The message ends at 15 s and the next one starts in the same read.
        clock.received(t0 + secs(15), true, true);
        assert_eq!(clock.deadline(), Some(t0 + secs(35)));
        assert_eq!(clock.expired(t0 + secs(30)), None);
        assert_eq!(clock.expired(t0 + secs(35)), Some(Expired::Message));
        // It ends too: from now on only the idle limit applies.
        clock.received(t0 + secs(34), true, false);
        assert_eq!(clock.expired(t0 + secs(35)), None);
        assert_eq!(clock.deadline(), Some(t0 + secs(334)));
    }

    #[test]
    fn an_idle_connection_lasts_the_idle_time_and_keep_alives_extend_it() {
        let t0 = Instant::now();
        let mut clock = ConnectionClock::new(t0, &limits());
        assert_eq!(clock.expired(t0 + secs(299)), None);
        assert_eq!(clock.expired(t0 + secs(300)), Some(Expired::Idle));
        // A CRLF keep-alive (finished, nothing pending) is activity.
        clock.received(t0 + secs(120), true, false);
        assert_eq!(clock.expired(t0 + secs(300)), None);
        assert_eq!(clock.expired(t0 + secs(420)), Some(Expired::Idle));
    }

    #[test]
    fn a_registration_keeps_an_idle_connection_but_not_an_unfinished_message() {
        let t0 = Instant::now();
        let mut clock = ConnectionClock::new(t0, &limits());
        clock.keep_open_until(Some(t0 + secs(3600)));
        assert_eq!(clock.expired(t0 + secs(3599)), None);
        assert_eq!(clock.expired(t0 + secs(3600)), Some(Expired::Idle));
        clock.received(t0 + secs(100), false, true);
        assert_eq!(clock.expired(t0 + secs(120)), Some(Expired::Message));
        // An unregister gives the connection back to the idle limit.
        clock.received(t0 + secs(110), true, false);
        clock.keep_open_until(None);
        assert_eq!(clock.expired(t0 + secs(410)), Some(Expired::Idle));
    }

    #[test]
    fn a_limit_too_large_to_count_never_expires() {
        let t0 = Instant::now();
        let clock = ConnectionClock::new(
            t0,
            &TcpLimits {
                idle_timeout: Duration::MAX,
                ..limits()
            },
        );
        assert_eq!(clock.deadline(), None);
        assert_eq!(clock.expired(t0 + secs(1_000_000)), None);
    }

    #[test]
    fn connections_are_capped_per_source_and_in_all() {
        let mut c = ConnectionCounter::new(&limits());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let d: IpAddr = "192.0.2.3".parse().unwrap();
        let a1 = c.admit(a).unwrap();
        let _a2 = c.admit(a).unwrap();
        assert_eq!(c.admit(a).unwrap_err(), Refused::PerAddress);
        let _b1 = c.admit(b).unwrap();
        let _out = c.admit_outbound().unwrap();
        assert_eq!(c.open(), 4);
        assert_eq!(c.admit(d).unwrap_err(), Refused::Total);
        assert_eq!(c.admit_outbound().unwrap_err(), Refused::Total);
        // A refusal takes nothing: closing one lets exactly one in.
        c.release(a1);
        assert_eq!(c.open_from(a), 1);
        let _d1 = c.admit(d).unwrap();
        assert_eq!(c.admit(a).unwrap_err(), Refused::Total);
        assert_eq!(c.open(), 4);
    }

    #[test]
    fn released_sources_are_forgotten() {
        let mut c = ConnectionCounter::new(&limits());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let s = c.admit(a).unwrap();
        c.release(s);
        assert_eq!(c.open(), 0);
        assert!(c.per_source.is_empty());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_source_and_mapped_ipv4_is_ipv4() {
        let mut c = ConnectionCounter::new(&limits());
        let x: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let y: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let z: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _ = c.admit(x).unwrap();
        let _ = c.admit(y).unwrap();
        assert_eq!(c.admit(z).map(|_| ()), Ok(()));
        assert_eq!(c.admit(x).unwrap_err(), Refused::PerAddress);
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let _ = c.admit(v4).unwrap();
        assert_eq!(c.open_from(mapped), 1);
    }
}
