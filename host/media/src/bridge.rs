//! The tokio side of a relayed call: one task reads both legs' RTP
//! sockets, hands every datagram to the [`Relay`], sends what it says, and
//! reports digits and dead legs to the call engine. RTCP sockets are read
//! and their reports consumed (each leg's RTCP describes a different RTP
//! session, so it is not forwarded).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::ports::RtpPorts;
use crate::relay::Relay;

/// What the call engine hears from a bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// `leg` pressed `digit`.
    Digit { leg: usize, digit: char },
    /// `leg` sent no RTP for the timeout: the call is dead.
    Timeout { leg: usize },
}

/// A running relay; stops when dropped.
pub struct Bridge {
    task: JoinHandle<()>,
    relay: Arc<Mutex<Relay>>,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Bridge {
    /// Start relaying between `a` and `b`. `rtp_timeout` of `None` never
    /// times out (a call on hold may be silent).
    pub fn start(
        a: RtpPorts,
        b: RtpPorts,
        relay: Relay,
        rtp_timeout: Option<Duration>,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Bridge {
        let relay = Arc::new(Mutex::new(relay));
        let r = relay.clone();
        let task = tokio::spawn(async move {
            let socks = [a, b];
            let mut bufs = [vec![0u8; 2048], vec![0u8; 2048]];
            let (mut rtcp_a, mut rtcp_b) = (vec![0u8; 2048], vec![0u8; 2048]);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                let [buf_a, buf_b] = &mut bufs;
                let (leg, got) = tokio::select! {
                    r = socks[0].rtp.recv_from(buf_a) => (0, r),
                    r = socks[1].rtp.recv_from(buf_b) => (1, r),
                    _ = socks[0].rtcp.recv_from(&mut rtcp_a) => continue,
                    _ = socks[1].rtcp.recv_from(&mut rtcp_b) => continue,
                    _ = tick.tick() => {
                        if let Some(t) = rtp_timeout {
                            let dead = r.lock().expect("relay lock").timed_out(Instant::now(), t);
                            if let Some(leg) = dead {
                                let _ = events.send(MediaEvent::Timeout { leg });
                                return;
                            }
                        }
                        continue;
                    }
                };
                let Ok((n, from)) = got else {
                    // ICMP errors surface here on Linux: keep relaying.
                    continue;
                };
                let out = r.lock().expect("relay lock").handle(
                    Instant::now(),
                    leg,
                    from,
                    &bufs[leg][..n],
                );
                if let Some(digit) = out.digit {
                    let _ = events.send(MediaEvent::Digit { leg, digit });
                }
                if let Some((to, bytes)) = out.forward {
                    let _ = socks[1 - leg].rtp.send_to(&bytes, to).await;
                }
            }
        });
        Bridge { task, relay }
    }

    /// Packets relayed from `leg` and ignored from it.
    pub fn counts(&self, leg: usize) -> (u64, u64) {
        self.relay.lock().expect("relay lock").counts(leg)
    }

    /// A leg renegotiated (re-INVITE).
    pub fn renegotiate(&self, leg: usize, cfg: crate::relay::LegConfig) {
        self.relay.lock().expect("relay lock").renegotiate(leg, cfg);
    }
}
