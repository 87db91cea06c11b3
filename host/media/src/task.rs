//! The tokio side of a call's media: one task owns both legs' sockets and
//! the [`MediaSession`], hands it every datagram, runs its 20 ms clock only
//! while something plays or records, writes recordings to disk, and tells
//! the call engine what happened. The call engine steers it with
//! [`MediaHandle`] commands; nothing here decides anything.

use std::fs::File;
use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use switchyard_rtp::wav::{Channels, WavRecorder};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::ports::RtpPorts;
use crate::session::{LegConfig, MediaSession, MessageEnd, PlayItem};

/// What the call engine hears from a call's media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// `leg` pressed `digit`.
    Digit { leg: usize, digit: char },
    /// The play `id` to `leg` has been played to its end.
    Played { leg: usize, id: u64 },
    /// `leg` sent no RTP for the timeout: the call is dead.
    Timeout { leg: usize },
    /// The message recording ended and its file is complete.
    MessageRecorded { duration: Duration, end: MessageEnd },
    /// A recording file could not be written (disk full…); it was dropped
    /// and the call goes on.
    RecordingFailed(String),
}

/// Counters of one leg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegCounts {
    pub relayed: u64,
    pub ignored: u64,
}

enum Command {
    Configure(usize, LegConfig),
    Relay(bool),
    Play {
        leg: usize,
        items: Vec<PlayItem>,
        looping: bool,
        id: u64,
    },
    Stop(usize),
    StartRecording(PathBuf, Channels),
    PauseRecording(bool),
    StopRecording(oneshot::Sender<Option<Duration>>),
    StartMessage {
        path: PathBuf,
        max: Duration,
        finish_key: Option<char>,
        silence: Duration,
    },
    StopMessage(oneshot::Sender<Option<Duration>>),
    Counts(oneshot::Sender<[LegCounts; 2]>),
}

/// The running media of one call; the task stops when this is dropped.
pub struct MediaHandle {
    commands: mpsc::UnboundedSender<Command>,
    plays: std::sync::atomic::AtomicU64,
    /// `None` once [`MediaHandle::close`] has waited for the task.
    task: Option<JoinHandle<()>>,
}

impl Drop for MediaHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

type Recorder = WavRecorder<BufWriter<File>>;

fn recorder(path: &PathBuf, channels: Channels) -> Result<Recorder, String> {
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    WavRecorder::new(BufWriter::new(file), channels).map_err(|e| e.to_string())
}

fn finish(r: Option<Recorder>) -> Option<Duration> {
    r.and_then(|r| r.finish().ok())
}

/// Carry out one command of the call engine.
fn command(
    session: &mut MediaSession,
    cmd: Command,
    call_rec: &mut Option<Recorder>,
    message: &mut Option<Recorder>,
    events: &mpsc::UnboundedSender<MediaEvent>,
) {
    match cmd {
        Command::Configure(leg, cfg) => session.configure(Instant::now(), leg, cfg),
        Command::Relay(on) => session.set_relay(on),
        Command::Play {
            leg,
            items,
            looping,
            id,
        } => session.play(leg, items, looping, id),
        Command::Stop(leg) => {
            session.stop(leg);
        }
        Command::StartRecording(path, channels) => match recorder(&path, channels) {
            Ok(r) => {
                *call_rec = Some(r);
                session.start_recording();
            }
            Err(e) => {
                let _ = events.send(MediaEvent::RecordingFailed(e));
            }
        },
        Command::PauseRecording(p) => session.pause_recording(p),
        Command::StopRecording(reply) => {
            session.stop_recording();
            let _ = reply.send(finish(call_rec.take()));
        }
        Command::StartMessage {
            path,
            max,
            finish_key,
            silence,
        } => match recorder(&path, Channels::Mono) {
            Ok(r) => {
                *message = Some(r);
                session.start_message(max, finish_key, silence);
            }
            Err(e) => {
                let _ = events.send(MediaEvent::RecordingFailed(e));
            }
        },
        Command::StopMessage(reply) => {
            session.stop_message();
            let _ = reply.send(finish(message.take()));
        }
        Command::Counts(reply) => {
            let c = |leg| {
                let (relayed, ignored) = session.counts(leg);
                LegCounts { relayed, ignored }
            };
            let _ = reply.send([c(0), c(1)]);
        }
    }
}

impl MediaHandle {
    /// Start the media of a call on `ports` (caller's leg, agent's leg).
    /// `rtp_timeout` of `None` never times out.
    pub fn start(
        ports: [RtpPorts; 2],
        rtp_timeout: Option<Duration>,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> MediaHandle {
        let (commands, rx) = mpsc::unbounded_channel();
        let ssrcs = [rand_u32(), rand_u32()];
        let task = tokio::spawn(run(ports, rtp_timeout, rx, events, ssrcs));
        MediaHandle {
            commands,
            plays: Default::default(),
            task: Some(task),
        }
    }

    /// End the media now and return once the task is gone, its sockets
    /// closed and its ports back in the pool. Dropping the handle also ends
    /// the task, but only the next time the runtime gets to it.
    pub async fn close(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    fn send(&self, c: Command) {
        let _ = self.commands.send(c);
    }

    /// A leg answered or renegotiated.
    pub fn configure(&self, leg: usize, cfg: LegConfig) {
        self.send(Command::Configure(leg, cfg));
    }

    /// Connect the legs to each other, or not.
    pub fn relay(&self, on: bool) {
        self.send(Command::Relay(on));
    }

    /// Play to `leg`; [`MediaEvent::Played`] with the id returned here
    /// follows unless `looping`.
    pub fn play(&self, leg: usize, items: Vec<PlayItem>, looping: bool) -> u64 {
        let id = self
            .plays
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.send(Command::Play {
            leg,
            items,
            looping,
            id,
        });
        id
    }

    pub fn stop(&self, leg: usize) {
        self.send(Command::Stop(leg));
    }

    /// Record the conversation into the WAV file `path`.
    pub fn start_recording(&self, path: PathBuf, channels: Channels) {
        self.send(Command::StartRecording(path, channels));
    }

    pub fn pause_recording(&self, paused: bool) {
        self.send(Command::PauseRecording(paused));
    }

    /// Stop the call recording; its length when one was written.
    pub async fn stop_recording(&self) -> Option<Duration> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::StopRecording(tx));
        rx.await.ok().flatten()
    }

    /// Record what the caller says into `path` (mono WAV); ends with
    /// [`MediaEvent::MessageRecorded`].
    pub fn start_message(
        &self,
        path: PathBuf,
        max: Duration,
        finish_key: Option<char>,
        silence: Duration,
    ) {
        self.send(Command::StartMessage {
            path,
            max,
            finish_key,
            silence,
        });
    }

    /// End the message recording now (the caller hung up); its length.
    pub async fn stop_message(&self) -> Option<Duration> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::StopMessage(tx));
        rx.await.ok().flatten()
    }

    /// Packets relayed from and ignored on each leg.
    pub async fn counts(&self) -> [LegCounts; 2] {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Counts(tx));
        rx.await.unwrap_or_default()
    }
}

/// What woke the media task.
enum Wake {
    Command(Option<Command>),
    /// A datagram of `len` bytes from `from` waits in `leg`'s buffer.
    Rtp {
        leg: usize,
        len: usize,
        from: SocketAddr,
    },
    Tick,
    Watchdog,
}

/// The call's media task: one loop over both legs' sockets, the commands,
/// the 20 ms clock (only while something plays or records) and the RTP
/// timeout's watchdog.
async fn run(
    socks: [RtpPorts; 2],
    rtp_timeout: Option<Duration>,
    mut rx: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<MediaEvent>,
    ssrcs: [u32; 2],
) {
    let mut session = MediaSession::new(Instant::now(), ssrcs);
    let mut bufs = [vec![0u8; 2048], vec![0u8; 2048]];
    let mut rtcp_buf = vec![0u8; 2048];
    let mut clock = tokio::time::interval(Duration::from_millis(20));
    // A late tick (a loaded machine) is made up at once: the far end's
    // jitter buffer absorbs a burst, but a stream that falls behind real
    // time is heard as gaps for the rest of the call.
    clock.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut ticking = false;
    let mut watchdog = tokio::time::interval(Duration::from_secs(1));
    let mut call_rec: Option<Recorder> = None;
    let mut message: Option<Recorder> = None;
    loop {
        if session.needs_tick() != ticking {
            ticking = !ticking;
            if ticking {
                clock.reset_immediately();
            }
        }
        let wake = std::future::poll_fn(|cx| {
            poll_wake(
                cx,
                &mut rx,
                &socks,
                &mut bufs,
                &mut rtcp_buf,
                ticking.then_some(&mut clock),
                &mut watchdog,
            )
        })
        .await;
        match wake {
            Wake::Command(None) => return,
            Wake::Command(Some(cmd)) => {
                command(&mut session, cmd, &mut call_rec, &mut message, &events)
            }
            Wake::Rtp { leg, len, from } => {
                let out = session.handle(Instant::now(), leg, from, &bufs[leg][..len]);
                if let Some(digit) = out.digit {
                    let _ = events.send(MediaEvent::Digit { leg, digit });
                }
                if let Some((to, bytes)) = out.forward {
                    send(&socks[1 - leg].rtp, &bytes, to).await;
                }
                if let Some(end) = out.message_end {
                    let duration = finish(message.take()).unwrap_or_default();
                    let _ = events.send(MediaEvent::MessageRecorded { duration, end });
                }
            }
            Wake::Tick => {
                let out = session.tick();
                for (leg, to, bytes) in out.sends {
                    send(&socks[leg].rtp, &bytes, to).await;
                }
                for (leg, id) in out.played {
                    let _ = events.send(MediaEvent::Played { leg, id });
                }
                if let (Some((caller, agent)), Some(r)) = (out.recorded, call_rec.as_mut())
                    && let Err(e) = r.write_legs(&caller, &agent)
                {
                    call_rec = None;
                    session.stop_recording();
                    let _ = events.send(MediaEvent::RecordingFailed(e.to_string()));
                }
                if let (Some(frame), Some(r)) = (out.message, message.as_mut())
                    && let Err(e) = r.write(&frame)
                {
                    message = None;
                    let _ = events.send(MediaEvent::RecordingFailed(e.to_string()));
                }
                if let Some(end) = out.message_end {
                    let duration = finish(message.take()).unwrap_or_default();
                    let _ = events.send(MediaEvent::MessageRecorded { duration, end });
                }
            }
            Wake::Watchdog => {
                if let Some(t) = rtp_timeout
                    && let Some(leg) = session.timed_out(Instant::now(), t)
                {
                    let _ = events.send(MediaEvent::Timeout { leg });
                    return;
                }
            }
        }
    }
}

/// Look at every source of work once and say what is ready.
///
/// Commands come first: they follow signalling that happened before the
/// packets now waiting (an answer, a resume), so a packet must never
/// overtake the command that makes it relayable.
///
/// The sockets are polled with their `poll_*` methods, which keep one
/// waker per socket, rather than with a `select!` over `recv_from`
/// futures: those are made and dropped for every packet, each time taking
/// and leaving the socket's waiter list, which showed in the relay's
/// profile.
fn poll_wake(
    cx: &mut Context<'_>,
    rx: &mut mpsc::UnboundedReceiver<Command>,
    socks: &[RtpPorts; 2],
    bufs: &mut [Vec<u8>; 2],
    rtcp_buf: &mut [u8],
    clock: Option<&mut tokio::time::Interval>,
    watchdog: &mut tokio::time::Interval,
) -> Poll<Wake> {
    if let Poll::Ready(cmd) = rx.poll_recv(cx) {
        return Poll::Ready(Wake::Command(cmd));
    }
    for (leg, buf) in bufs.iter_mut().enumerate() {
        loop {
            let mut rb = ReadBuf::new(buf);
            match socks[leg].rtp.poll_recv_from(cx, &mut rb) {
                Poll::Ready(Ok(from)) => {
                    let len = rb.filled().len();
                    return Poll::Ready(Wake::Rtp { leg, len, from });
                }
                // ICMP errors surface here on Linux: read on.
                Poll::Ready(Err(_)) => continue,
                Poll::Pending => break,
            }
        }
    }
    // Each leg's RTCP describes its own RTP session: read and dropped,
    // never forwarded.
    for s in socks {
        while s
            .rtcp
            .poll_recv_from(cx, &mut ReadBuf::new(rtcp_buf))
            .is_ready()
        {}
    }
    if let Some(clock) = clock
        && clock.poll_tick(cx).is_ready()
    {
        return Poll::Ready(Wake::Tick);
    }
    if watchdog.poll_tick(cx).is_ready() {
        return Poll::Ready(Wake::Watchdog);
    }
    Poll::Pending
}

/// Send one datagram. UDP sockets are nearly always writable, so the
/// attempt is made at once; only a full send buffer waits.
async fn send(sock: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = sock.try_send_to(bytes, to)
        && e.kind() == std::io::ErrorKind::WouldBlock
    {
        let _ = sock.send_to(bytes, to).await;
    }
}

/// A random SSRC, without a dependency for it: the hasher behind
/// `HashMap` is seeded randomly per process and per instance.
fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish() as u32
}
