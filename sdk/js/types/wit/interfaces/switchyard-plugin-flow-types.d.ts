/// <reference path="./switchyard-plugin-types.d.ts" />
declare module 'switchyard:plugin/flow-types@0.2.2' {
  export type Timestamp = import('switchyard:plugin/types@0.2.2').Timestamp;
  /**
   * Why a caller left a queue.
   * # Variants
   * 
   * ## `"answered"`
   * 
   * An agent answered.
   * ## `"abandoned"`
   * 
   * The caller hung up while waiting.
   * ## `"timeout"`
   * 
   * The caller waited longer than the queue's (or `enqueue`'s)
   * timeout.
   * ## `"full"`
   * 
   * The queue was at its maximum of waiting callers.
   * ## `"no-agents"`
   * 
   * No agent of the queue was logged in (or none could ever take
   * the call: nobody with the skills).
   * ## `"empty"`
   * 
   * The queue's "leave when empty" rule applied: its last member
   * logged out while the caller waited.
   * ## `"key"`
   * 
   * The caller pressed the queue's exit key (see `key`).
   * ## `"callback-chosen"`
   * 
   * The caller chose to be called back and hung up; the host keeps
   * their place.
   * ## `"callback-failed"`
   * 
   * The host called the caller back and could not connect them.
   */
  export type QueueExit = 'answered' | 'abandoned' | 'timeout' | 'full' | 'no-agents' | 'empty' | 'key' | 'callback-chosen' | 'callback-failed';
  /**
   * How and why a caller left a queue.
   */
  export interface QueueResult {
    /**
     * The queue's name.
     */
    queue: string,
    reason: QueueExit,
    /**
     * Seconds waited.
     */
    waitedSeconds: number,
    /**
     * The key pressed, for `key`.
     */
    key?: string,
  }
  /**
   * Digits collected by `gather`.
   */
  export interface Gathered {
    /**
     * The digits pressed, without the finish key (`0-9`, `*`, `#`, `A-D`).
     */
    digits: string,
    /**
     * True when the finish key ended the input.
     */
    finishedByKey: boolean,
  }
  /**
   * How a `dial` ended.
   * # Variants
   * 
   * ## `"answered"`
   * 
   * ## `"busy"`
   * 
   * ## `"no-answer"`
   * 
   * ## `"failed"`
   * 
   * Nothing could be reached: unknown or unregistered target, network
   * or carrier error.
   * ## `"cancelled"`
   * 
   * The caller hung up while we were ringing.
   */
  export type DialOutcome = 'answered' | 'busy' | 'no-answer' | 'failed' | 'cancelled';
  export interface DialResult {
    outcome: DialOutcome,
    /**
     * Which target answered (as given in the `dial`), when one did.
     */
    answeredBy?: string,
    /**
     * The final SIP status code seen (200, 486, 408, 480…).
     */
    sipCode: number,
    /**
     * How long the bridged conversation lasted, in seconds.
     */
    talkSeconds: number,
  }
  /**
   * A recording made by `record-audio`.
   */
  export interface Recording {
    /**
     * Id under which the host stored the audio.
     */
    id: string,
    durationMs: number,
    /**
     * The key that ended it, if any.
     */
    finishedByKey?: string,
  }
  /**
   * # Variants
   * 
   * ## `"completed"`
   * 
   * ## `"failed"`
   */
  export type TransferOutcome = 'completed' | 'failed';
  export interface TransferResult {
    outcome: TransferOutcome,
    sipCode: number,
  }
  /**
   * # Variants
   * 
   * ## `"caller"`
   * 
   * ## `"callee"`
   * 
   * ## `"system"`
   */
  export type HangupBy = 'caller' | 'callee' | 'system';
  export interface HangupInfo {
    /**
     * Who hung up.
     */
    by: HangupBy,
    /**
     * When.
     */
    at: Timestamp,
    sipCode: number,
  }
  /**
   * Something happened on the call; the plugin decides what happens next.
   */
  export type Event = EventCallStarted | EventDigits | EventGatherTimeout | EventDialFinished | EventPlayFinished | EventRecordFinished | EventQueueTimeout | EventQueueOverflow | EventTransferResult | EventHangup | EventQueueFinished;
  /**
   * A new call reached this flow (first event of every call, and the
   * first event after a `goto-flow`).
   */
  export interface EventCallStarted {
    tag: 'call-started',
  }
  /**
   * A `gather` collected digits (ended by max digits, the finish key
   * or the inter-digit timeout after at least one digit).
   */
  export interface EventDigits {
    tag: 'digits',
    val: Gathered,
  }
  /**
   * A `gather` ended with no digit at all.
   */
  export interface EventGatherTimeout {
    tag: 'gather-timeout',
  }
  /**
   * A `dial` ended.
   */
  export interface EventDialFinished {
    tag: 'dial-finished',
    val: DialResult,
  }
  /**
   * Every prompt of a `play` was played.
   */
  export interface EventPlayFinished {
    tag: 'play-finished',
  }
  /**
   * A `record-audio` ended.
   */
  export interface EventRecordFinished {
    tag: 'record-finished',
    val: Recording,
  }
  /**
   * The caller waited in the queue longer than its timeout.
   * 
   * Since 0.2.0 the host sends `queue-finished` instead; it sends
   * this event only to components built against 0.1.0.
   */
  export interface EventQueueTimeout {
    tag: 'queue-timeout',
    val: string,
  }
  /**
   * The queue was full or had no agent logged in.
   * 
   * Since 0.2.0 the host sends `queue-finished` instead; it sends
   * this event only to components built against 0.1.0.
   */
  export interface EventQueueOverflow {
    tag: 'queue-overflow',
    val: string,
  }
  /**
   * A `transfer` ended.
   */
  export interface EventTransferResult {
    tag: 'transfer-result',
    val: TransferResult,
  }
  /**
   * The call ended. Actions returned for this event are ignored;
   * state is still saved for reporting.
   */
  export interface EventHangup {
    tag: 'hangup',
    val: HangupInfo,
  }
  /**
   * The caller left a queue but is still on the line with us, so the
   * flow decides what happens next. Sent for the reasons `timeout`,
   * `full`, `no-agents`, `empty` and `key`; a caller who is answered
   * or hangs up leaves the flow (`hangup` follows), and callback
   * outcomes are the queue's business. Added in 0.2.0.
   * 
   * A component built against 0.1.0 gets the event it knew instead:
   * `timeout` → `queue-timeout(queue)`; `full`, `no-agents`, `empty`
   * and `key` → `queue-overflow(queue)`; other reasons are not sent.
   */
  export interface EventQueueFinished {
    tag: 'queue-finished',
    val: QueueResult,
  }
  /**
   * Built-in tones.
   * # Variants
   * 
   * ## `"ringback"`
   * 
   * ## `"busy"`
   * 
   * ## `"beep"`
   * 
   * ## `"congestion"`
   */
  export type Tone = 'ringback' | 'busy' | 'beep' | 'congestion';
  /**
   * A thing to play to the caller.
   */
  export type Prompt = PromptFile | PromptTone | PromptSay | PromptSilence;
  /**
   * A prompt file the tenant uploaded, by name (e.g. `welcome`).
   */
  export interface PromptFile {
    tag: 'file',
    val: string,
  }
  /**
   * A built-in tone.
   */
  export interface PromptTone {
    tag: 'tone',
    val: Tone,
  }
  /**
   * Text to speak, where the host has a text-to-speech backend;
   * without one the host skips it and logs a warning.
   */
  export interface PromptSay {
    tag: 'say',
    val: string,
  }
  /**
   * Silence, in milliseconds.
   */
  export interface PromptSilence {
    tag: 'silence',
    val: number,
  }
  /**
   * Collect DTMF digits while (optionally) playing prompts. A digit stops
   * the prompts.
   */
  export interface Gather {
    prompts: Array<Prompt>,
    /**
     * Stop after this many digits (1 to 64).
     */
    maxDigits: number,
    /**
     * A key that ends input early and is not included (`#` usually).
     */
    finishOnKey?: string,
    /**
     * How long to wait for the first digit after the prompts end.
     */
    firstDigitTimeoutMs: number,
    /**
     * How long to wait between digits.
     */
    interDigitTimeoutMs: number,
  }
  /**
   * How several dial targets are tried.
   * # Variants
   * 
   * ## `"simultaneous"`
   * 
   * Ring every target at once; the first to answer wins.
   * ## `"sequential"`
   * 
   * Ring one after the other, `ring-timeout-secs` each.
   */
  export type DialMode = 'simultaneous' | 'sequential';
  /**
   * Something that can be dialled.
   */
  export type DialTarget = DialTargetExtension | DialTargetRingGroup | DialTargetNumber | DialTargetSipUri;
  /**
   * A tenant extension; every registered device rings.
   */
  export interface DialTargetExtension {
    tag: 'extension',
    val: string,
  }
  /**
   * A ring group by name; its members ring as the group says.
   */
  export interface DialTargetRingGroup {
    tag: 'ring-group',
    val: string,
  }
  /**
   * A phone number, sent out through the tenant's trunk.
   */
  export interface DialTargetNumber {
    tag: 'number',
    val: string,
  }
  /**
   * Any SIP URI.
   */
  export interface DialTargetSipUri {
    tag: 'sip-uri',
    val: string,
  }
  export interface Dial {
    targets: Array<DialTarget>,
    mode: DialMode,
    /**
     * Seconds to ring (each target, when sequential) before giving up.
     */
    ringTimeoutSecs: number,
    /**
     * Caller id to present; none keeps the caller's.
     */
    callerId?: string,
  }
  /**
   * Put the caller in a queue; agents are picked by the queue's strategy
   * plugin.
   */
  export interface Enqueue {
    queue: string,
    /**
     * Higher is served first (0 normal; VIP numbers use e.g. 10).
     */
    priority: number,
    /**
     * Skills an agent needs to take this call.
     */
    skills: Array<string>,
    /**
     * Give up after this many seconds (`queue-finished` event with
     * reason `timeout`).
     */
    timeoutSecs?: number,
  }
  export interface Voicemail {
    /**
     * Mailbox: an extension number or a shared mailbox name.
     */
    mailbox: string,
    /**
     * Greeting to play first; none plays the mailbox's own or the default.
     */
    greeting?: Prompt,
  }
  /**
   * Record the caller (a message, a name) — not a call recording, which
   * the host does by the tenant's recording rules.
   */
  export interface RecordAudio {
    maxSeconds: number,
    /**
     * Key that ends the recording.
     */
    finishOnKey?: string,
    /**
     * Play a beep before recording.
     */
    beep: boolean,
  }
  export interface Conference {
    room: string,
    /**
     * The conference starts when a moderator joins and ends when the
     * last one leaves.
     */
    moderator: boolean,
    muted: boolean,
  }
  /**
   * Blind transfer of the caller to a target.
   */
  export interface Transfer {
    target: DialTarget,
  }
  /**
   * Why a call is refused.
   * # Variants
   * 
   * ## `"busy"`
   * 
   * 486 Busy Here.
   * ## `"decline"`
   * 
   * 603 Decline.
   * ## `"unavailable"`
   * 
   * 480 Temporarily Unavailable.
   */
  export type RejectReason = 'busy' | 'decline' | 'unavailable';
  /**
   * What the host should do next, in order. A blocking action (gather,
   * dial, enqueue, voicemail, record-audio, conference, transfer, play)
   * produces the event that resumes the plugin; actions after it in the
   * same list are not run.
   */
  export type Action = ActionAnswer | ActionPlay | ActionGather | ActionDial | ActionEnqueue | ActionVoicemail | ActionRecordAudio | ActionConference | ActionTransfer | ActionSetTag | ActionPause | ActionReject | ActionHangup | ActionGotoFlow;
  /**
   * Answer the call (200 OK). Media actions answer implicitly.
   */
  export interface ActionAnswer {
    tag: 'answer',
  }
  /**
   * Play prompts in order.
   */
  export interface ActionPlay {
    tag: 'play',
    val: Array<Prompt>,
  }
  export interface ActionGather {
    tag: 'gather',
    val: Gather,
  }
  export interface ActionDial {
    tag: 'dial',
    val: Dial,
  }
  export interface ActionEnqueue {
    tag: 'enqueue',
    val: Enqueue,
  }
  export interface ActionVoicemail {
    tag: 'voicemail',
    val: Voicemail,
  }
  export interface ActionRecordAudio {
    tag: 'record-audio',
    val: RecordAudio,
  }
  export interface ActionConference {
    tag: 'conference',
    val: Conference,
  }
  export interface ActionTransfer {
    tag: 'transfer',
    val: Transfer,
  }
  /**
   * Attach a label to the call (agents see it; CDRs keep it).
   */
  export interface ActionSetTag {
    tag: 'set-tag',
    val: string,
  }
  /**
   * Wait, in milliseconds, with silence.
   */
  export interface ActionPause {
    tag: 'pause',
    val: number,
  }
  /**
   * Refuse an unanswered call.
   */
  export interface ActionReject {
    tag: 'reject',
    val: RejectReason,
  }
  /**
   * End the call.
   */
  export interface ActionHangup {
    tag: 'hangup',
  }
  /**
   * Hand the call to another flow of the tenant by name; it receives
   * `call-started` with fresh state.
   */
  export interface ActionGotoFlow {
    tag: 'goto-flow',
    val: string,
  }
  /**
   * The plugin's answer to an event.
   */
  export interface Decision {
    actions: Array<Action>,
    /**
     * Opaque state handed back with the next event of this call. Keep
     * it small: the host caps its size.
     */
    state?: Uint8Array,
  }
}
