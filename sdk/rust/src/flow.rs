//! Events, actions and decisions of the `call-flow` world, with builders.
//!
//! ## Queues
//! When a caller leaves a queue but stays on the line (they waited too
//! long, the queue was full or had no agent, its last agent logged out, or
//! they pressed the exit key) the flow gets [`Event::QueueFinished`] with a
//! [`QueueResult`]: the queue, the [`QueueExit`] reason, the seconds waited
//! and the key pressed. A flow should handle it; [`queue_gave_up`] tells
//! the reasons apart from the ones where the queue itself ran out of
//! options. `queue-timeout` and `queue-overflow` are what the host sends to
//! plugins built with SDK 0.1 (`switchyard:plugin@0.1.0`) instead; this
//! SDK's plugins never get them, but may keep matching them.
//!
//! ```no_run
//! use switchyard_sdk::flow::{self, RejectReason};
//! let actions = vec![
//!     flow::answer(),
//!     flow::gather([flow::file("menu")]).max_digits(1).timeouts(5_000, 3_000).into(),
//!     flow::dial([flow::ext("1002"), flow::ext("1003")]).ring_timeout(20).into(),
//!     flow::reject(RejectReason::Busy),
//! ];
//! # let _ = actions;
//! ```

pub use crate::bindings::switchyard::plugin::flow_types::{
    Action, Conference, Decision, Dial, DialMode, DialOutcome, DialResult, DialTarget, Enqueue,
    Event, Gather, Gathered, HangupBy, HangupInfo, Prompt, QueueExit, QueueResult, RecordAudio,
    Recording, RejectReason, Tone, Transfer, TransferOutcome, TransferResult, Voicemail,
};
use serde::Serialize;

/// What [`crate::CallFlow::handle`] returns.
pub type Result = std::result::Result<Decision, String>;

/// True for the `queue-finished` reasons where the queue gave up on the
/// caller without them choosing to leave: `timeout`, `no-agents`, `full`
/// and `empty`. First-party flows treat these like an unanswered dial
/// (their `no-answer` destination); `key` is the caller's own choice.
pub fn queue_gave_up(reason: QueueExit) -> bool {
    matches!(
        reason,
        QueueExit::Timeout | QueueExit::NoAgents | QueueExit::Full | QueueExit::Empty
    )
}

/// A decision with no state.
pub fn decide(actions: impl IntoIterator<Item = Action>) -> Result {
    Ok(Decision {
        actions: actions.into_iter().collect(),
        state: None,
    })
}

/// A decision that keeps `state` for the next event (see [`crate::state`]).
pub fn decide_with_state<T: Serialize>(
    actions: impl IntoIterator<Item = Action>,
    state: &T,
) -> Result {
    Ok(Decision {
        actions: actions.into_iter().collect(),
        state: Some(crate::state::save(state)?),
    })
}

// ---- prompts --------------------------------------------------------------

/// A prompt file the tenant uploaded, by name.
pub fn file(name: impl Into<String>) -> Prompt {
    Prompt::File(name.into())
}

/// Text to speak (where the host has text-to-speech).
pub fn say(text: impl Into<String>) -> Prompt {
    Prompt::Say(text.into())
}

/// A built-in tone.
pub fn tone(tone: Tone) -> Prompt {
    Prompt::Tone(tone)
}

/// Silence, in milliseconds.
pub fn silence(ms: u32) -> Prompt {
    Prompt::Silence(ms)
}

// ---- dial targets -----------------------------------------------------------

/// A tenant extension (every registered device rings).
pub fn ext(number: impl Into<String>) -> DialTarget {
    DialTarget::Extension(number.into())
}

/// A ring group by name.
pub fn ring_group(name: impl Into<String>) -> DialTarget {
    DialTarget::RingGroup(name.into())
}

/// A phone number, out through the tenant's trunk.
pub fn number(number: impl Into<String>) -> DialTarget {
    DialTarget::Number(number.into())
}

/// Any SIP URI.
pub fn sip_uri(uri: impl Into<String>) -> DialTarget {
    DialTarget::SipUri(uri.into())
}

// ---- simple actions ---------------------------------------------------------

/// Answer the call.
pub fn answer() -> Action {
    Action::Answer
}

/// Play prompts in order.
pub fn play(prompts: impl IntoIterator<Item = Prompt>) -> Action {
    Action::Play(prompts.into_iter().collect())
}

/// End the call.
pub fn hangup() -> Action {
    Action::Hangup
}

/// Refuse an unanswered call.
pub fn reject(reason: RejectReason) -> Action {
    Action::Reject(reason)
}

/// Attach a label to the call (agents see it; CDRs keep it).
pub fn set_tag(tag: impl Into<String>) -> Action {
    Action::SetTag(tag.into())
}

/// Wait with silence.
pub fn pause(ms: u32) -> Action {
    Action::Pause(ms)
}

/// Hand the call to another flow of the tenant.
pub fn goto_flow(name: impl Into<String>) -> Action {
    Action::GotoFlow(name.into())
}

/// Send the caller to a voicemail box with its own (or the default) greeting.
pub fn voicemail(mailbox: impl Into<String>) -> Action {
    Action::Voicemail(Voicemail {
        mailbox: mailbox.into(),
        greeting: None,
    })
}

/// Blind-transfer the caller.
pub fn transfer(target: DialTarget) -> Action {
    Action::Transfer(Transfer { target })
}

// ---- builders ----------------------------------------------------------------

/// Collect digits while playing `prompts`; 1 digit, no finish key, 5 s for
/// the first digit and 3 s between digits unless changed.
pub fn gather(prompts: impl IntoIterator<Item = Prompt>) -> GatherBuilder {
    GatherBuilder(Gather {
        prompts: prompts.into_iter().collect(),
        max_digits: 1,
        finish_on_key: None,
        first_digit_timeout_ms: 5_000,
        inter_digit_timeout_ms: 3_000,
    })
}

/// Builder of a [`Gather`]; `.into()` makes it an [`Action`].
pub struct GatherBuilder(pub Gather);

impl GatherBuilder {
    /// Stop after this many digits.
    pub fn max_digits(mut self, n: u8) -> Self {
        self.0.max_digits = n;
        self
    }
    /// A key that ends input early (not included in the digits).
    pub fn finish_on(mut self, key: char) -> Self {
        self.0.finish_on_key = Some(key);
        self
    }
    /// First-digit and inter-digit timeouts, in milliseconds.
    pub fn timeouts(mut self, first_ms: u32, inter_ms: u32) -> Self {
        self.0.first_digit_timeout_ms = first_ms;
        self.0.inter_digit_timeout_ms = inter_ms;
        self
    }
}

impl From<GatherBuilder> for Action {
    fn from(b: GatherBuilder) -> Action {
        Action::Gather(b.0)
    }
}

/// Ring `targets` at once for 30 s unless changed.
pub fn dial(targets: impl IntoIterator<Item = DialTarget>) -> DialBuilder {
    DialBuilder(Dial {
        targets: targets.into_iter().collect(),
        mode: DialMode::Simultaneous,
        ring_timeout_secs: 30,
        caller_id: None,
    })
}

/// Builder of a [`Dial`]; `.into()` makes it an [`Action`].
pub struct DialBuilder(pub Dial);

impl DialBuilder {
    /// Ring the targets one after the other.
    pub fn sequential(mut self) -> Self {
        self.0.mode = DialMode::Sequential;
        self
    }
    /// Seconds to ring (each target, when sequential).
    pub fn ring_timeout(mut self, secs: u32) -> Self {
        self.0.ring_timeout_secs = secs;
        self
    }
    /// Caller id to present.
    pub fn caller_id(mut self, id: impl Into<String>) -> Self {
        self.0.caller_id = Some(id.into());
        self
    }
}

impl From<DialBuilder> for Action {
    fn from(b: DialBuilder) -> Action {
        Action::Dial(b.0)
    }
}

/// Put the caller in `queue` with priority 0, no skills, no timeout unless
/// changed.
pub fn enqueue(queue: impl Into<String>) -> EnqueueBuilder {
    EnqueueBuilder(Enqueue {
        queue: queue.into(),
        priority: 0,
        skills: Vec::new(),
        timeout_secs: None,
    })
}

/// Builder of an [`Enqueue`]; `.into()` makes it an [`Action`].
pub struct EnqueueBuilder(pub Enqueue);

impl EnqueueBuilder {
    /// Higher is served first.
    pub fn priority(mut self, p: u8) -> Self {
        self.0.priority = p;
        self
    }
    /// Skills an agent needs.
    pub fn skills<S: Into<String>>(mut self, skills: impl IntoIterator<Item = S>) -> Self {
        self.0.skills = skills.into_iter().map(Into::into).collect();
        self
    }
    /// Give up after this many seconds.
    pub fn timeout(mut self, secs: u32) -> Self {
        self.0.timeout_secs = Some(secs);
        self
    }
}

impl From<EnqueueBuilder> for Action {
    fn from(b: EnqueueBuilder) -> Action {
        Action::Enqueue(b.0)
    }
}

/// Record the caller for up to `max_seconds`, after a beep, ended by `#`
/// unless changed.
pub fn record_audio(max_seconds: u32) -> RecordBuilder {
    RecordBuilder(RecordAudio {
        max_seconds,
        finish_on_key: Some('#'),
        beep: true,
    })
}

/// Builder of a [`RecordAudio`]; `.into()` makes it an [`Action`].
pub struct RecordBuilder(pub RecordAudio);

impl RecordBuilder {
    /// The key that ends the recording; `None` for none.
    pub fn finish_on(mut self, key: Option<char>) -> Self {
        self.0.finish_on_key = key;
        self
    }
    /// Play a beep first.
    pub fn beep(mut self, beep: bool) -> Self {
        self.0.beep = beep;
        self
    }
}

impl From<RecordBuilder> for Action {
    fn from(b: RecordBuilder) -> Action {
        Action::RecordAudio(b.0)
    }
}

/// Join the conference `room` as a normal, unmuted participant.
pub fn conference(room: impl Into<String>) -> Action {
    Action::Conference(Conference {
        room: room.into(),
        moderator: false,
        muted: false,
    })
}
