//! The tokio side of a conference room: one task ticks the room's
//! [`Room`] every 20 ms (while anybody is in it) and sends what it made
//! on the participants' own sockets, lent by their calls' media tasks
//! (or, for an SRTP or WebRTC leg, hands it back to that task to encrypt
//! or encode: [`Sink`]), which hand over what the participants say as it
//! arrives ([`RoomHandle::push`]). One timer for the whole room, not one per
//! participant; nothing here decides anything.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchyard_rtp::g711::Law;
use switchyard_rtp::wav::{Channels, WavRecorder};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc};
use tokio::time::MissedTickBehavior;

use crate::room::{MemberId, Room, Stream};
use crate::session::PlayItem;
use crate::station::Station;
use crate::task::CallSink;

/// Where the room's RTP for a participant goes.
pub enum Sink {
    /// Straight out of the leg's own socket: a plain RTP phone.
    Socket(Arc<UdpSocket>),
    /// Through the leg's call media task, which encrypts it (an SRTP
    /// phone) or encodes it (a browser's WebRTC leg) and sends it: the
    /// keys and codec state live there, with what arrives on the leg.
    Call(CallSink),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::Socket(_) => f.write_str("Sink::Socket"),
            Sink::Call(_) => f.write_str("Sink::Call"),
        }
    }
}

/// What a room tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEvent {
    /// A participant started (`true`) or stopped talking.
    Talking(MemberId, bool),
    /// The room's recording could not be written (it stops).
    RecordingFailed(String),
}

type Recorder = WavRecorder<BufWriter<File>>;

struct State {
    room: Room,
    socks: Vec<(MemberId, Arc<Sink>)>,
    recording: Option<Recorder>,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the task when the first participant comes (it sleeps while
    /// the room is empty) or the room closes.
    wake: Notify,
}

/// A running room (cheap to clone). The task ends with
/// [`RoomHandle::close`] or when the last handle is dropped.
#[derive(Clone)]
pub struct RoomHandle(Arc<Shared>);

impl std::fmt::Debug for RoomHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomHandle")
    }
}

impl RoomHandle {
    /// Start a room's task; its events go to `events`.
    pub fn start(events: mpsc::UnboundedSender<RoomEvent>) -> RoomHandle {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                room: Room::new(),
                socks: Vec::new(),
                recording: None,
                closed: false,
            }),
            wake: Notify::new(),
        });
        tokio::spawn(run(Arc::downgrade(&shared), events));
        RoomHandle(shared)
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.0.state.lock().expect("room lock"))
    }

    /// Participant `id` joins, its RTP sent on `stream` through `sink`.
    pub fn add(&self, id: MemberId, stream: Stream, sink: Sink, muted: bool) {
        self.with(|s| {
            s.room.add(id, stream, muted);
            s.socks.retain(|(m, _)| *m != id);
            s.socks.push((id, Arc::new(sink)));
        });
        self.0.wake.notify_one();
    }

    /// Participant `id` left.
    pub fn remove(&self, id: MemberId) {
        self.with(|s| {
            s.room.remove(id);
            s.socks.retain(|(m, _)| *m != id);
        });
    }

    /// What participant `id` said: one RTP payload in `law`.
    pub fn push(&self, id: MemberId, law: Law, payload: &[u8]) {
        self.with(|s| s.room.push(id, law, payload));
    }

    pub fn set_destination(&self, id: MemberId, to: std::net::SocketAddr) {
        self.with(|s| s.room.set_destination(id, to));
    }

    pub fn set_muted(&self, id: MemberId, muted: bool) {
        self.with(|s| s.room.set_muted(id, muted));
    }

    pub fn play_to(&self, id: MemberId, items: Vec<PlayItem>) {
        self.with(|s| s.room.play_to(id, items));
    }

    pub fn play_all(&self, items: Vec<PlayItem>) {
        self.with(|s| s.room.play_all(items));
    }

    pub fn set_music(&self, station: Option<Station>) {
        self.with(|s| s.room.set_music(station));
    }

    pub fn has_music(&self) -> bool {
        self.with(|s| s.room.has_music())
    }

    pub fn len(&self) -> usize {
        self.with(|s| s.room.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record the room's mix (mono) into `path` from now on.
    pub fn start_recording(&self, path: &PathBuf) -> Result<(), String> {
        let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let r =
            WavRecorder::new(BufWriter::new(file), Channels::Mono).map_err(|e| e.to_string())?;
        self.with(|s| s.recording = Some(r));
        Ok(())
    }

    /// End the recording: its length, `None` without one (or when it
    /// could not be finished).
    pub fn stop_recording(&self) -> Option<Duration> {
        self.with(|s| s.recording.take())
            .and_then(|r| r.finish().ok())
    }

    /// Stop the room's task (its recording, if any, is dropped
    /// unfinished: stop it first).
    pub fn close(&self) {
        self.with(|s| s.closed = true);
        self.0.wake.notify_one();
    }
}

async fn run(shared: std::sync::Weak<Shared>, events: mpsc::UnboundedSender<RoomEvent>) {
    let mut clock = tokio::time::interval(Duration::from_millis(20));
    // As a call's media: a late tick is made up at once.
    clock.set_missed_tick_behavior(MissedTickBehavior::Burst);
    loop {
        let Some(s) = shared.upgrade() else { return };
        let (empty, closed) = {
            let st = s.state.lock().expect("room lock");
            (st.room.is_empty(), st.closed)
        };
        if closed {
            return;
        }
        if empty {
            s.wake.notified().await;
            clock.reset_immediately();
            continue;
        }
        drop(s);
        clock.tick().await;
        let Some(s) = shared.upgrade() else { return };
        let (sends, talking, failed) = {
            let mut st = s.state.lock().expect("room lock");
            let t = st.room.tick(Instant::now());
            let mut failed = None;
            if let Some(r) = st.recording.as_mut()
                && let Err(e) = r.write(&t.mix)
            {
                st.recording = None;
                failed = Some(e.to_string());
            }
            let sends: Vec<_> = t
                .sends
                .into_iter()
                .filter_map(|(id, to, bytes)| {
                    let sock = st.socks.iter().find(|(m, _)| *m == id)?.1.clone();
                    Some((sock, to, bytes))
                })
                .collect();
            (sends, t.talking, failed)
        };
        drop(s);
        // Sent outside the lock: the participants' tasks push meanwhile.
        for (sink, to, bytes) in sends {
            match &*sink {
                Sink::Socket(sock) => {
                    if let Err(e) = sock.try_send_to(&bytes, to)
                        && e.kind() == std::io::ErrorKind::WouldBlock
                    {
                        let _ = sock.send_to(&bytes, to).await;
                    }
                }
                Sink::Call(call) => call.send(to, bytes),
            }
        }
        for (id, on) in talking {
            let _ = events.send(RoomEvent::Talking(id, on));
        }
        if let Some(e) = failed {
            let _ = events.send(RoomEvent::RecordingFailed(e));
        }
    }
}
