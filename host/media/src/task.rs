//! The tokio side of a call's media: one task owns all its legs' sockets
//! (added and removed as the call goes) and the [`MediaSession`], hands it
//! every datagram, runs its 20 ms clock only while something plays, mixes
//! or records, writes recordings to disk, and tells
//! the call engine what happened. The call engine steers it with
//! [`MediaHandle`] commands; nothing here decides anything.

use std::fs::File;
use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use switchyard_rtp::wav::{Channels, WavRecorder};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::ports::RtpPorts;
use crate::room::MemberId;
use crate::room_task::{RoomHandle, Sink};
use crate::session::{
    BridgeId, LegConfig, LegId, Listener, MediaSession, MessageEnd, PlayItem, SourceId,
};
use crate::srtp::SrtpLeg;
use crate::station::Station;
use crate::webrtc::{EVENT_PT, SharedWebRtcLeg, WebRtcLeg};
use switchyard_rtp::g711::Law;
use switchyard_sdp::SrtpKeys;

/// What the call engine hears from a call's media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// `leg` pressed `digit`.
    Digit { leg: LegId, digit: char },
    /// The play `id` to `leg` has been played to its end.
    Played { leg: LegId, id: u64 },
    /// `leg` sent no RTP for the timeout: the call is dead.
    Timeout { leg: LegId },
    /// `leg`'s message recording ended and its file is complete.
    MessageRecorded {
        leg: LegId,
        duration: Duration,
        end: MessageEnd,
    },
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
    AddLeg(LegId, RtpPorts, u32),
    /// A browser's leg: its WebRTC media terminated in front of the
    /// session, which sees a PCMU leg.
    AddWebRtcLeg(LegId, RtpPorts, u32, SharedWebRtcLeg),
    /// A browser's leg was renegotiated outside the task (an answer, a
    /// re-offer either way): what str0m made of it is sent now and its
    /// timers re-armed, rather than at its next datagram or timer.
    WebRtcChanged(LegId),
    /// A SIP phone's leg speaks SRTP with these keys (`None`: plain RTP).
    Srtp(LegId, Option<SrtpKeys>),
    RemoveLeg(LegId),
    /// Give a browser's leg up to another call's media task: out of this
    /// task at once (session, rooms, message), its sockets through the
    /// channel (`None`: no such leg here).
    HandOff(LegId, oneshot::Sender<Option<RtpPorts>>),
    /// A browser's leg handed off by another call's task: added once its
    /// sockets arrive (see [`MediaHandle::adopt_webrtc_leg`]).
    AdoptWebRtcLeg(
        LegId,
        oneshot::Receiver<Option<RtpPorts>>,
        u32,
        SharedWebRtcLeg,
    ),
    /// Stop after the commands before this one (see [`MediaHandle::close`]).
    Close,
    /// A room's RTP for a lent leg that cannot be sent as it is (SRTP,
    /// WebRTC): sent through the leg like the session's own.
    FromRoom(LegId, SocketAddr, Vec<u8>),
    Configure(LegId, LegConfig),
    CreateBridge(BridgeId),
    DestroyBridge(BridgeId),
    Join(LegId, BridgeId),
    Leave(LegId),
    KeepKeys(LegId),
    JoinRoom {
        leg: LegId,
        room: RoomHandle,
        member: MemberId,
        muted: bool,
    },
    SetHears {
        bridge: BridgeId,
        listener: LegId,
        source: LegId,
        on: bool,
    },
    CreateSource {
        id: SourceId,
        items: Vec<PlayItem>,
        looping: bool,
    },
    RemoveSource(SourceId),
    SetHearsSource(Listener, SourceId, bool),
    Play {
        leg: LegId,
        items: Vec<PlayItem>,
        looping: bool,
        id: u64,
    },
    Listen(LegId, Station),
    Stop(LegId),
    StartRecording(PathBuf, Channels, LegId),
    PauseRecording(bool),
    StopRecording(oneshot::Sender<Option<Duration>>),
    StartMessage {
        leg: LegId,
        path: PathBuf,
        max: Duration,
        finish_key: Option<char>,
        silence: Duration,
    },
    StopMessage(LegId, oneshot::Sender<Option<Duration>>),
    Counts(LegId, oneshot::Sender<LegCounts>),
}

/// A lent leg's way back into its call's media task, for a room's RTP
/// that must be encrypted or encoded there (see
/// [`Sink::Call`](crate::room_task::Sink::Call)). Weak: a room keeps no
/// call's media alive.
pub struct CallSink {
    commands: mpsc::WeakUnboundedSender<Command>,
    leg: LegId,
}

impl CallSink {
    /// Hand the room's packet `bytes` for `to` to the call's task.
    pub(crate) fn send(&self, to: SocketAddr, bytes: Vec<u8>) {
        if let Some(tx) = self.commands.upgrade() {
            let _ = tx.send(Command::FromRoom(self.leg, to, bytes));
        }
    }
}

/// The running media of one call; the task stops when this is dropped.
pub struct MediaHandle {
    commands: mpsc::UnboundedSender<Command>,
    plays: AtomicU64,
    /// Ids of bridges and sources, numbered here as the session numbers
    /// them (commands are carried out in order).
    bridges: AtomicU32,
    sources: AtomicU32,
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

/// What the task owns besides the session: the legs' sockets and the
/// recordings being written.
#[derive(Default)]
struct Io {
    socks: Vec<(LegId, RtpPorts)>,
    call_rec: Option<Recorder>,
    messages: Vec<(LegId, Recorder)>,
    /// Legs lent to conference rooms: their seat there.
    seats: Vec<(LegId, RoomHandle, MemberId)>,
    /// Browsers' legs: every datagram on their sockets goes through the
    /// WebRTC leg, and what the session sends them too.
    webrtc: Vec<(LegId, SharedWebRtcLeg)>,
    /// SIP phones' SRTP legs: what arrives is decrypted before the
    /// session sees it, what the session sends them is encrypted.
    srtp: Vec<(LegId, SrtpLeg)>,
}

impl Drop for Io {
    fn drop(&mut self) {
        // A call's media that ends leaves its rooms.
        for (_, room, id) in self.seats.drain(..) {
            room.remove(id);
        }
    }
}

impl Io {
    fn sock(&self, leg: LegId) -> Option<&UdpSocket> {
        self.socks
            .iter()
            .find(|(l, _)| *l == leg)
            .map(|(_, p)| &*p.rtp)
    }

    /// A browser's leg, locked: never held across an `await` (callers
    /// consume the guard in a closure).
    fn webrtc(&self, leg: LegId) -> Option<std::sync::MutexGuard<'_, WebRtcLeg>> {
        self.webrtc
            .iter()
            .find(|(l, _)| *l == leg)
            .map(|(_, w)| crate::webrtc::lock(w))
    }

    fn srtp(&mut self, leg: LegId) -> Option<&mut SrtpLeg> {
        self.srtp
            .iter_mut()
            .find(|(l, _)| *l == leg)
            .map(|(_, s)| s)
    }

    /// When the next WebRTC leg wants its timers run.
    fn webrtc_deadline(&self) -> Option<Instant> {
        self.webrtc
            .iter()
            .filter_map(|(_, w)| crate::webrtc::lock(w).poll_timeout())
            .min()
    }

    fn leave_room(&mut self, leg: LegId) {
        if let Some(i) = self.seats.iter().position(|(l, _, _)| *l == leg) {
            let (_, room, id) = self.seats.swap_remove(i);
            room.remove(id);
        }
    }

    fn take_message(&mut self, leg: LegId) -> Option<Recorder> {
        let i = self.messages.iter().position(|(l, _)| *l == leg)?;
        Some(self.messages.swap_remove(i).1)
    }

    /// Everything of `leg` leaves the task; its sockets are returned.
    fn remove_leg(&mut self, session: &mut MediaSession, leg: LegId) -> Option<RtpPorts> {
        self.webrtc.retain(|(l, _)| *l != leg);
        self.srtp.retain(|(l, _)| *l != leg);
        self.leave_room(leg);
        self.take_message(leg);
        session.remove_leg(leg);
        let i = self.socks.iter().position(|(l, _)| *l == leg)?;
        Some(self.socks.swap_remove(i).1)
    }
}

/// Carry out one command of the call engine.
fn command(
    session: &mut MediaSession,
    cmd: Command,
    io: &mut Io,
    events: &mpsc::UnboundedSender<MediaEvent>,
    commands: &mpsc::WeakUnboundedSender<Command>,
) {
    let now = Instant::now();
    match cmd {
        Command::AddLeg(leg, ports, ssrc) => {
            io.socks.retain(|(l, _)| *l != leg);
            io.socks.push((leg, ports));
            session.add_leg(now, leg, ssrc);
        }
        Command::AddWebRtcLeg(leg, ports, ssrc, webrtc) => {
            io.socks.retain(|(l, _)| *l != leg);
            io.webrtc.retain(|(l, _)| *l != leg);
            io.socks.push((leg, ports));
            let remote = crate::webrtc::lock(&webrtc).local();
            io.webrtc.push((leg, webrtc));
            session.add_leg(now, leg, ssrc);
            session.configure(
                now,
                leg,
                LegConfig {
                    law: Law::Pcmu,
                    event_pt: Some(EVENT_PT),
                    remote: Some(remote),
                    sends: true,
                },
            );
        }
        // Carried out in the task's loop, which can await the sends.
        Command::WebRtcChanged(_)
        | Command::FromRoom(..)
        | Command::AdoptWebRtcLeg(..)
        | Command::Close => {}
        Command::Srtp(leg, keys) => match keys {
            // Same keys (a re-INVITE that kept them): the contexts and
            // their rollover counters stay.
            Some(keys) if io.srtp(leg).is_some_and(|s| *s.keys() == keys) => {}
            Some(keys) => {
                io.srtp.retain(|(l, _)| *l != leg);
                match SrtpLeg::new(keys) {
                    Ok(s) => io.srtp.push((leg, s)),
                    // Never with keys of the right length; the leg then
                    // hears nothing rather than plain RTP.
                    Err(e) => tracing::warn!(%leg, error = %e, "SRTP keys refused"),
                }
            }
            None => io.srtp.retain(|(l, _)| *l != leg),
        },
        // Dropping the sockets gives the ports back to the pool.
        Command::RemoveLeg(leg) => drop(io.remove_leg(session, leg)),
        Command::HandOff(leg, reply) => {
            let _ = reply.send(io.remove_leg(session, leg));
        }
        Command::Configure(leg, cfg) => session.configure(now, leg, cfg),
        Command::CreateBridge(id) => {
            let got = session.create_bridge();
            debug_assert_eq!(got, id, "bridge ids numbered alike");
        }
        Command::DestroyBridge(id) => session.destroy_bridge(id),
        Command::Join(leg, bridge) => {
            session.join(leg, bridge);
        }
        Command::Leave(leg) => session.leave(leg),
        Command::KeepKeys(leg) => session.keep_keys(leg),
        Command::JoinRoom {
            leg,
            room,
            member,
            muted,
        } => {
            let sock = io
                .socks
                .iter()
                .find(|(l, _)| *l == leg)
                .map(|(_, p)| p.rtp.clone());
            // A browser's or SRTP phone's RTP is made in this task (codec,
            // keys): the room's comes back here to be sent. A plain
            // phone's goes straight from its socket.
            let through_call =
                io.webrtc.iter().any(|(l, _)| *l == leg) || io.srtp.iter().any(|(l, _)| *l == leg);
            let sink = match sock {
                Some(_) if through_call => Some(Sink::Call(CallSink {
                    commands: commands.clone(),
                    leg,
                })),
                Some(sock) => Some(Sink::Socket(sock)),
                None => None,
            };
            match (sink, session.lend(now, leg)) {
                (Some(sink), Some(stream)) => {
                    io.leave_room(leg);
                    room.add(member, stream, sink, muted);
                    io.seats.push((leg, room, member));
                }
                _ => tracing::warn!(%leg, "not lent to the room: no such leg, or not answered"),
            }
        }
        Command::SetHears {
            bridge,
            listener,
            source,
            on,
        } => {
            session.set_hears(bridge, listener, source, on);
        }
        Command::CreateSource { id, items, looping } => {
            let got = session.create_source(items, looping);
            debug_assert_eq!(got, id, "source ids numbered alike");
        }
        Command::RemoveSource(id) => session.remove_source(id),
        Command::SetHearsSource(listener, source, on) => {
            session.set_hears_source(listener, source, on);
        }
        Command::Play {
            leg,
            items,
            looping,
            id,
        } => session.play(leg, items, looping, id),
        Command::Listen(leg, station) => session.listen(leg, station),
        Command::Stop(leg) => {
            session.stop(leg);
        }
        Command::StartRecording(path, channels, left) => match recorder(&path, channels) {
            Ok(r) => {
                io.call_rec = Some(r);
                session.start_recording(left);
            }
            Err(e) => {
                let _ = events.send(MediaEvent::RecordingFailed(e));
            }
        },
        Command::PauseRecording(p) => session.pause_recording(p),
        Command::StopRecording(reply) => {
            session.stop_recording();
            let _ = reply.send(finish(io.call_rec.take()));
        }
        Command::StartMessage {
            leg,
            path,
            max,
            finish_key,
            silence,
        } => match recorder(&path, Channels::Mono) {
            Ok(r) => {
                io.take_message(leg);
                io.messages.push((leg, r));
                session.start_message(leg, max, finish_key, silence);
            }
            Err(e) => {
                let _ = events.send(MediaEvent::RecordingFailed(e));
            }
        },
        Command::StopMessage(leg, reply) => {
            session.stop_message(leg);
            let _ = reply.send(finish(io.take_message(leg)));
        }
        Command::Counts(leg, reply) => {
            let (relayed, ignored) = session.counts(leg);
            let _ = reply.send(LegCounts { relayed, ignored });
        }
    }
}

impl MediaHandle {
    /// Start the media of a call, without legs yet ([`add_leg`](Self::add_leg)).
    /// `rtp_timeout` of `None` never times out.
    pub fn start(
        rtp_timeout: Option<Duration>,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> MediaHandle {
        let (commands, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(rtp_timeout, rx, commands.downgrade(), events));
        MediaHandle {
            commands,
            plays: Default::default(),
            bridges: Default::default(),
            sources: Default::default(),
            task: Some(task),
        }
    }

    /// End the media now and return once the task is gone, its sockets
    /// closed and its ports back in the pool. Dropping the handle also ends
    /// the task, but only the next time the runtime gets to it.
    ///
    /// The commands sent before are carried out first: a leg handed off
    /// ([`hand_off`](Self::hand_off)) just before the call ended still
    /// reaches the call that adopts it.
    pub async fn close(mut self) {
        if let Some(task) = self.task.take() {
            self.send(Command::Close);
            let _ = task.await;
        }
    }

    fn send(&self, c: Command) {
        let _ = self.commands.send(c);
    }

    /// A leg on `ports` (the task owns them from now on), with a random
    /// SSRC for its whole life.
    pub fn add_leg(&self, leg: LegId, ports: RtpPorts) {
        self.send(Command::AddLeg(leg, ports, rand_u32()));
    }

    /// A browser's leg on `ports`, its WebRTC media terminated by
    /// `webrtc` (already offered or answered); configured as a PCMU leg.
    /// The caller keeps its own reference to renegotiate it (see
    /// [`SharedWebRtcLeg`]) and says so with
    /// [`webrtc_changed`](Self::webrtc_changed).
    pub fn add_webrtc_leg(&self, leg: LegId, ports: RtpPorts, webrtc: SharedWebRtcLeg) {
        self.send(Command::AddWebRtcLeg(leg, ports, rand_u32(), webrtc));
    }

    /// The browser's leg was renegotiated (an answer taken, an offer
    /// made or answered): the task sends what that produced.
    pub fn webrtc_changed(&self, leg: LegId) {
        self.send(Command::WebRtcChanged(leg));
    }

    /// `leg` speaks SRTP with `keys` from now on (`None`: plain RTP
    /// again). The same keys again change nothing.
    pub fn set_srtp(&self, leg: LegId, keys: Option<SrtpKeys>) {
        self.send(Command::Srtp(leg, keys));
    }

    /// A browser's leg leaves this call's media for another call's
    /// ([`adopt_webrtc_leg`](Self::adopt_webrtc_leg) there): its sockets
    /// come through the answer, so its ICE and DTLS go on untouched and
    /// the browser is asked nothing (an attended transfer).
    pub fn hand_off(&self, leg: LegId) -> oneshot::Receiver<Option<RtpPorts>> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::HandOff(leg, tx));
        rx
    }

    /// A browser's leg handed off by another call ([`hand_off`](Self::hand_off)
    /// there) becomes `leg` here, with the same WebRTC endpoint `webrtc`.
    /// Commands sent after this one wait for it.
    pub fn adopt_webrtc_leg(
        &self,
        leg: LegId,
        ports: oneshot::Receiver<Option<RtpPorts>>,
        webrtc: SharedWebRtcLeg,
    ) {
        self.send(Command::AdoptWebRtcLeg(leg, ports, rand_u32(), webrtc));
    }

    /// The leg is gone: its ports go back to the pool.
    pub fn remove_leg(&self, leg: LegId) {
        self.send(Command::RemoveLeg(leg));
    }

    /// A leg answered or renegotiated.
    pub fn configure(&self, leg: LegId, cfg: LegConfig) {
        self.send(Command::Configure(leg, cfg));
    }

    pub fn create_bridge(&self) -> BridgeId {
        let id = BridgeId(self.bridges.fetch_add(1, Ordering::Relaxed));
        self.send(Command::CreateBridge(id));
        id
    }

    pub fn destroy_bridge(&self, bridge: BridgeId) {
        self.send(Command::DestroyBridge(bridge));
    }

    /// Put `leg` in `bridge` (moving it from another): everybody there
    /// hears everybody.
    pub fn join(&self, leg: LegId, bridge: BridgeId) {
        self.send(Command::Join(leg, bridge));
    }

    pub fn leave(&self, leg: LegId) {
        self.send(Command::Leave(leg));
    }

    /// Lend `leg` to `room` as participant `member`: what it says goes
    /// there, the room sends it what it hears (until the leg is removed).
    pub fn join_room(&self, leg: LegId, room: RoomHandle, member: MemberId, muted: bool) {
        self.send(Command::JoinRoom {
            leg,
            room,
            member,
            muted,
        });
    }

    /// `leg`'s keys are reported, never passed on (see
    /// [`MediaSession::keep_keys`]).
    pub fn keep_keys(&self, leg: LegId) {
        self.send(Command::KeepKeys(leg));
    }

    pub fn set_hears(&self, bridge: BridgeId, listener: LegId, source: LegId, on: bool) {
        self.send(Command::SetHears {
            bridge,
            listener,
            source,
            on,
        });
    }

    /// A source heard by many (music on hold): see
    /// [`MediaSession::create_source`].
    pub fn create_source(&self, items: Vec<PlayItem>, looping: bool) -> SourceId {
        let id = SourceId(self.sources.fetch_add(1, Ordering::Relaxed));
        self.send(Command::CreateSource { id, items, looping });
        id
    }

    pub fn remove_source(&self, source: SourceId) {
        self.send(Command::RemoveSource(source));
    }

    pub fn set_hears_source(&self, listener: Listener, source: SourceId, on: bool) {
        self.send(Command::SetHearsSource(listener, source, on));
    }

    /// Play to `leg`; [`MediaEvent::Played`] with the id returned here
    /// follows unless `looping`.
    pub fn play(&self, leg: LegId, items: Vec<PlayItem>, looping: bool) -> u64 {
        let id = self.plays.fetch_add(1, Ordering::Relaxed);
        self.send(Command::Play {
            leg,
            items,
            looping,
            id,
        });
        id
    }

    /// Let `leg` listen to a shared music source until a play or a stop:
    /// see [`MediaSession::listen`].
    pub fn listen(&self, leg: LegId, station: Station) {
        self.send(Command::Listen(leg, station));
    }

    pub fn stop(&self, leg: LegId) {
        self.send(Command::Stop(leg));
    }

    /// Record the conversation into the WAV file `path`: `left` on the
    /// left channel, the legs it is bridged with on the right (mono: all).
    pub fn start_recording(&self, path: PathBuf, channels: Channels, left: LegId) {
        self.send(Command::StartRecording(path, channels, left));
    }

    pub fn pause_recording(&self, paused: bool) {
        self.send(Command::PauseRecording(paused));
    }

    /// Stop the call recording (now); its length when one was written.
    /// The future does not borrow the handle: the answer comes even if
    /// the handle is gone meanwhile.
    pub fn stop_recording(&self) -> impl std::future::Future<Output = Option<Duration>> + use<> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::StopRecording(tx));
        async move { rx.await.ok().flatten() }
    }

    /// Record what `leg` says into `path` (mono WAV); ends with
    /// [`MediaEvent::MessageRecorded`].
    pub fn start_message(
        &self,
        leg: LegId,
        path: PathBuf,
        max: Duration,
        finish_key: Option<char>,
        silence: Duration,
    ) {
        self.send(Command::StartMessage {
            leg,
            path,
            max,
            finish_key,
            silence,
        });
    }

    /// End `leg`'s message recording now (the caller hung up); its length.
    pub fn stop_message(
        &self,
        leg: LegId,
    ) -> impl std::future::Future<Output = Option<Duration>> + use<> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::StopMessage(leg, tx));
        async move { rx.await.ok().flatten() }
    }

    /// Packets relayed from and ignored on `leg`.
    pub async fn counts(&self, leg: LegId) -> LegCounts {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Counts(leg, tx));
        rx.await.unwrap_or_default()
    }
}

/// What woke the media task.
enum Wake {
    Command(Option<Command>),
    /// A datagram of `len` bytes from `from` waits in the buffer, from the
    /// `leg`th socket.
    Rtp {
        leg: usize,
        len: usize,
        from: SocketAddr,
    },
    Tick,
    Watchdog,
    /// A WebRTC leg's timer is due.
    WebRtcTimer,
}

/// The call's media task: one loop over all its legs' sockets, the
/// commands, the 20 ms clock (only while something plays, mixes or
/// records) and the RTP timeout's watchdog. While nothing is relayed, the
/// sockets are read at the clock's tick instead of on every packet
/// ([`MediaSession::reads_at_tick`]).
async fn run(
    rtp_timeout: Option<Duration>,
    mut rx: mpsc::UnboundedReceiver<Command>,
    own: mpsc::WeakUnboundedSender<Command>,
    events: mpsc::UnboundedSender<MediaEvent>,
) {
    let mut session = MediaSession::new();
    let mut io = Io::default();
    let mut buf = vec![0u8; 2048];
    let mut rtcp_buf = vec![0u8; 2048];
    let mut clock = tokio::time::interval(FRAME);
    // A late tick (a loaded machine) is made up at once: the far end's
    // jitter buffer absorbs a burst, but a stream that falls behind real
    // time is heard as gaps for the rest of the call.
    clock.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut ticking = false;
    let mut watchdog = tokio::time::interval(Duration::from_secs(1));
    let mut first = 0usize;
    let mut webrtc_timer = Box::pin(tokio::time::sleep(Duration::from_secs(3600)));
    let mut webrtc_armed: Option<Instant> = None;
    loop {
        let due = io.webrtc_deadline();
        if due != webrtc_armed {
            webrtc_armed = due;
            if let Some(at) = due {
                webrtc_timer.as_mut().reset(at.into());
            }
        }
        if session.needs_tick() != ticking {
            ticking = !ticking;
            if ticking {
                clock.reset_immediately();
            }
        }
        // While only listening, the sockets are read at the tick; while
        // only a station's music is sent, two frames go at each tick.
        let at_tick = ticking && session.reads_at_tick();
        let frames = if at_tick && session.sends_only_music() {
            MUSIC_FRAMES_PER_TICK
        } else {
            1
        };
        if clock.period() != FRAME * frames {
            clock = tokio::time::interval_at(Instant::now().into(), FRAME * frames);
            clock.set_missed_tick_behavior(MissedTickBehavior::Burst);
            clock.reset_after(FRAME);
        }
        let wake = std::future::poll_fn(|cx| {
            poll_wake(
                cx,
                &mut rx,
                (!at_tick).then_some(&io.socks),
                first,
                &mut buf,
                &mut rtcp_buf,
                ticking.then_some(&mut clock),
                &mut watchdog,
                webrtc_armed.map(|_| webrtc_timer.as_mut()),
            )
        })
        .await;
        match wake {
            Wake::Command(None | Some(Command::Close)) => return,
            Wake::Command(Some(Command::AdoptWebRtcLeg(leg, ports, ssrc, webrtc))) => {
                // The other call's task answers at its next wake; one that
                // is gone (or stuck) leaves the leg without media here.
                match tokio::time::timeout(HAND_OFF_WAIT, ports).await {
                    Ok(Ok(Some(ports))) => {
                        let add = Command::AddWebRtcLeg(leg, ports, ssrc, webrtc);
                        command(&mut session, add, &mut io, &events, &own);
                        webrtc_flush(&mut session, &mut io, &events, leg).await;
                    }
                    _ => {
                        tracing::warn!(%leg, "a browser's leg handed over by another call never came")
                    }
                }
            }
            Wake::Command(Some(Command::WebRtcChanged(leg))) => {
                webrtc_flush(&mut session, &mut io, &events, leg).await;
            }
            Wake::Command(Some(Command::FromRoom(leg, to, bytes))) => {
                // Only while the leg still sits in a room: one that has
                // left gets nothing stale.
                if io.seats.iter().any(|(l, _, _)| *l == leg) {
                    send_to_leg(&mut io, leg, &bytes, to).await;
                }
            }
            Wake::Command(Some(cmd)) => command(&mut session, cmd, &mut io, &events, &own),
            Wake::Rtp { leg, len, from } => {
                // The next poll starts after this socket: no leg starves.
                first = leg + 1;
                let id = io.socks[leg].0;
                packet(&mut session, &mut io, &events, id, from, &buf[..len]).await;
            }
            Wake::Tick => {
                if at_tick {
                    read_waiting(&mut session, &mut io, &events, &mut buf, &mut rtcp_buf).await;
                }
                let now = Instant::now();
                for k in 0..frames {
                    tick(&mut session, &mut io, &events, now + FRAME * k).await;
                }
            }
            Wake::WebRtcTimer => {
                webrtc_armed = None;
                let now = Instant::now();
                let legs: Vec<LegId> = io.webrtc.iter().map(|(l, _)| *l).collect();
                for leg in legs {
                    if let Some(mut w) = io.webrtc(leg) {
                        w.handle_timeout(now);
                    }
                    webrtc_flush(&mut session, &mut io, &events, leg).await;
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

/// How long a call's media waits for a leg another call hands it.
const HAND_OFF_WAIT: Duration = Duration::from_secs(1);

/// One frame's time.
const FRAME: Duration = Duration::from_millis(20);

/// Frames sent at each tick while a call only sends a station's music (a
/// caller waiting in a queue): the task wakes every 40 ms instead of 20,
/// and the phone's jitter buffer (40 ms and more in every phone and
/// softphone) evens out the pairs. Prompts, relays and mixes keep one
/// frame a tick.
const MUSIC_FRAMES_PER_TICK: u32 = 2;

/// One tick of the session at `now`: what it sends, and what it reports.
async fn tick(
    session: &mut MediaSession,
    io: &mut Io,
    events: &mpsc::UnboundedSender<MediaEvent>,
    now: Instant,
) {
    let out = session.tick(now);
    for (leg, to, bytes) in out.sends {
        send_to_leg(io, leg, &bytes, to).await;
    }
    for (leg, id) in out.played {
        let _ = events.send(MediaEvent::Played { leg, id });
    }
    if let (Some((left, right)), Some(r)) = (out.recorded, io.call_rec.as_mut())
        && let Err(e) = r.write_legs(&left, &right)
    {
        io.call_rec = None;
        session.stop_recording();
        let _ = events.send(MediaEvent::RecordingFailed(e.to_string()));
    }
    for (leg, frame) in out.messages {
        if let Some((_, r)) = io.messages.iter_mut().find(|(l, _)| *l == leg)
            && let Err(e) = r.write(&frame)
        {
            io.take_message(leg);
            let _ = events.send(MediaEvent::RecordingFailed(e.to_string()));
        }
    }
    for (leg, end) in out.message_ends {
        let duration = finish(io.take_message(leg)).unwrap_or_default();
        let _ = events.send(MediaEvent::MessageRecorded { leg, duration, end });
    }
}

/// Send what the session sends `leg`: from its socket to `to`, encrypted
/// first for an SRTP leg, or, for a browser's leg, through its WebRTC
/// leg (which sends what it makes of it from the same socket).
async fn send_to_leg(io: &mut Io, leg: LegId, bytes: &[u8], to: SocketAddr) {
    let webrtc = io.webrtc(leg).map(|mut w| {
        w.send_rtp(Instant::now(), bytes);
        std::iter::from_fn(|| w.poll_transmit()).collect::<Vec<_>>()
    });
    let Some(transmits) = webrtc else {
        if let Some(srtp) = io.srtp(leg) {
            let Some(wire) = srtp.protect(bytes) else {
                return;
            };
            if let Some(sock) = io.sock(leg) {
                send(sock, &wire, to).await;
            }
            return;
        }
        if let Some(sock) = io.sock(leg) {
            send(sock, bytes, to).await;
        }
        return;
    };
    if let Some(sock) = io.sock(leg) {
        for (to, bytes) in transmits {
            send(sock, &bytes, to).await;
        }
    }
}

/// Send what a WebRTC leg wants sent, and hand the audio and digits it
/// decoded to the session as the leg's packets.
async fn webrtc_flush(
    session: &mut MediaSession,
    io: &mut Io,
    events: &mpsc::UnboundedSender<MediaEvent>,
    leg: LegId,
) {
    let taken = io.webrtc(leg).map(|mut w| {
        let transmits: Vec<(SocketAddr, Vec<u8>)> =
            std::iter::from_fn(|| w.poll_transmit()).collect();
        let decoded: Vec<Vec<u8>> = std::iter::from_fn(|| w.poll_rtp()).collect();
        (transmits, decoded, w.local())
    });
    let Some((transmits, decoded, local)) = taken else {
        return;
    };
    if let Some(sock) = io.sock(leg) {
        for (to, bytes) in transmits {
            send(sock, &bytes, to).await;
        }
    }
    for rtp in decoded {
        Box::pin(session_packet(session, io, events, leg, local, &rtp)).await;
    }
}

/// A datagram from `from` on `leg`'s RTP socket: to the session (through
/// the leg's WebRTC termination for a browser), and what it says to do
/// done.
async fn packet(
    session: &mut MediaSession,
    io: &mut Io,
    events: &mpsc::UnboundedSender<MediaEvent>,
    id: LegId,
    from: SocketAddr,
    bytes: &[u8],
) {
    let taken = io
        .webrtc(id)
        .map(|mut w| w.handle_datagram(Instant::now(), from, bytes));
    if taken.is_some() {
        webrtc_flush(session, io, events, id).await;
        return;
    }
    if let Some(srtp) = io.srtp(id) {
        // SRTCP, forgeries and replays go no further.
        if let Some(rtp) = srtp.unprotect(bytes) {
            session_packet(session, io, events, id, from, &rtp).await;
        }
        return;
    }
    session_packet(session, io, events, id, from, bytes).await;
}

/// One RTP packet of `id` for the session, and what it says to do done.
async fn session_packet(
    session: &mut MediaSession,
    io: &mut Io,
    events: &mpsc::UnboundedSender<MediaEvent>,
    id: LegId,
    from: SocketAddr,
    bytes: &[u8],
) {
    let out = session.handle(Instant::now(), id, from, bytes);
    if let Some(digit) = out.digit {
        let _ = events.send(MediaEvent::Digit { leg: id, digit });
    }
    if let Some((law, range)) = out.lent.clone()
        && let Some((_, room, member)) = io.seats.iter().find(|(l, _, _)| *l == id)
    {
        room.push(*member, law, &bytes[range]);
    }
    for (via, to, bytes) in out.forwards() {
        send_to_leg(io, via, bytes, to).await;
    }
    if let Some(end) = out.message_end {
        let duration = finish(io.take_message(id)).unwrap_or_default();
        let _ = events.send(MediaEvent::MessageRecorded {
            leg: id,
            duration,
            end,
        });
    }
}

/// Packets a tick reads per socket at most: a phone sends one per 20 ms;
/// more waits for the next tick (or, past the socket's buffer, is dropped
/// by the kernel), so a flood cannot hold the task.
const READ_PER_TICK: usize = 32;

/// Reads what waits on every socket, in arrival order per socket, before a
/// tick (see [`MediaSession::reads_at_tick`]). RTCP is read and dropped,
/// as on arrival.
async fn read_waiting(
    session: &mut MediaSession,
    io: &mut Io,
    events: &mpsc::UnboundedSender<MediaEvent>,
    buf: &mut [u8],
    rtcp_buf: &mut [u8],
) {
    for k in 0..io.socks.len() {
        for _ in 0..READ_PER_TICK {
            let Some((id, ports)) = io.socks.get(k) else {
                break;
            };
            let id = *id;
            match ports.rtp.try_recv_from(buf) {
                Ok((len, from)) => packet(session, io, events, id, from, &buf[..len]).await,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // ICMP errors surface here on Linux: read on.
                Err(_) => continue,
            }
        }
        if let Some((_, ports)) = io.socks.get(k) {
            while ports.rtcp.try_recv_from(rtcp_buf).is_ok() {}
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
#[allow(clippy::too_many_arguments)]
fn poll_wake(
    cx: &mut Context<'_>,
    rx: &mut mpsc::UnboundedReceiver<Command>,
    socks: Option<&[(LegId, RtpPorts)]>,
    first: usize,
    buf: &mut [u8],
    rtcp_buf: &mut [u8],
    clock: Option<&mut tokio::time::Interval>,
    watchdog: &mut tokio::time::Interval,
    webrtc_timer: Option<std::pin::Pin<&mut tokio::time::Sleep>>,
) -> Poll<Wake> {
    if let Poll::Ready(cmd) = rx.poll_recv(cx) {
        return Poll::Ready(Wake::Command(cmd));
    }
    // Not read now: read at the tick.
    let socks = socks.unwrap_or_default();
    let n = socks.len();
    for k in 0..n {
        let leg = (first + k) % n;
        loop {
            let mut rb = ReadBuf::new(buf);
            match socks[leg].1.rtp.poll_recv_from(cx, &mut rb) {
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
    for (_, s) in socks {
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
    if let Some(timer) = webrtc_timer
        && timer.poll(cx).is_ready()
    {
        return Poll::Ready(Wake::WebRtcTimer);
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
