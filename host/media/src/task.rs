//! The tokio side of a call's media: one task owns both legs' sockets and
//! the [`MediaSession`], hands it every datagram, runs its 20 ms clock only
//! while something plays or records, writes recordings to disk, and tells
//! the call engine what happened. The call engine steers it with
//! [`MediaHandle`] commands; nothing here decides anything.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use switchyard_rtp::wav::{Channels, WavRecorder};
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
    task: JoinHandle<()>,
}

impl Drop for MediaHandle {
    fn drop(&mut self) {
        self.task.abort();
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
        let (commands, mut rx) = mpsc::unbounded_channel();
        let ssrcs = [rand_u32(), rand_u32()];
        let task = tokio::spawn(async move {
            let mut session = MediaSession::new(Instant::now(), ssrcs);
            let socks = ports;
            let mut bufs = [vec![0u8; 2048], vec![0u8; 2048]];
            let (mut rtcp_a, mut rtcp_b) = (vec![0u8; 2048], vec![0u8; 2048]);
            let mut clock = tokio::time::interval(Duration::from_millis(20));
            // A late tick (a loaded machine) is made up at once: the far
            // end's jitter buffer absorbs a burst, but a stream that falls
            // behind real time is heard as gaps for the rest of the call.
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
                let [buf_a, buf_b] = &mut bufs;
                tokio::select! {
                    // Commands first: they follow signalling that happened
                    // before the packets now waiting (an answer, a resume),
                    // so a packet must never overtake the command that
                    // makes it relayable.
                    biased;
                    cmd = rx.recv() => {
                        let Some(cmd) = cmd else { return };
                        command(&mut session, cmd, &mut call_rec, &mut message, &events);
                    }
                    r = socks[0].rtp.recv_from(buf_a) => {
                        // ICMP errors surface here on Linux: keep going.
                        let Ok((n, from)) = r else { continue };
                        let out = session.handle(Instant::now(), 0, from, &bufs[0][..n]);
                        if let Some(digit) = out.digit {
                            let _ = events.send(MediaEvent::Digit { leg: 0, digit });
                        }
                        if let Some((to, bytes)) = out.forward {
                            let _ = socks[1].rtp.send_to(&bytes, to).await;
                        }
                        if let Some(end) = out.message_end {
                            let duration = finish(message.take()).unwrap_or_default();
                            let _ = events.send(MediaEvent::MessageRecorded { duration, end });
                        }
                    }
                    r = socks[1].rtp.recv_from(buf_b) => {
                        let Ok((n, from)) = r else { continue };
                        let out = session.handle(Instant::now(), 1, from, &bufs[1][..n]);
                        if let Some(digit) = out.digit {
                            let _ = events.send(MediaEvent::Digit { leg: 1, digit });
                        }
                        if let Some((to, bytes)) = out.forward {
                            let _ = socks[0].rtp.send_to(&bytes, to).await;
                        }
                    }
                    // Each leg's RTCP describes its own RTP session: read
                    // and dropped, never forwarded.
                    _ = socks[0].rtcp.recv_from(&mut rtcp_a) => {}
                    _ = socks[1].rtcp.recv_from(&mut rtcp_b) => {}
                    _ = clock.tick(), if ticking => {
                        let out = session.tick();
                        for (leg, to, bytes) in out.sends {
                            let _ = socks[leg].rtp.send_to(&bytes, to).await;
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
                    _ = watchdog.tick() => {
                        if let Some(t) = rtp_timeout
                            && let Some(leg) = session.timed_out(Instant::now(), t)
                        {
                            let _ = events.send(MediaEvent::Timeout { leg });
                            return;
                        }
                    }
                }
            }
        });
        MediaHandle {
            commands,
            plays: Default::default(),
            task,
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
