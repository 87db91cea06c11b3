declare module 'switchyard:plugin/types@0.2.2' {
  /**
   * Milliseconds since the Unix epoch, UTC.
   */
  export type Timestamp = bigint;
  /**
   * Which way a call goes, seen from the tenant.
   * # Variants
   * 
   * ## `"inbound"`
   * 
   * From a carrier trunk (a DID) into the tenant.
   * ## `"outbound"`
   * 
   * From one of the tenant's extensions out through a trunk.
   * ## `"internal"`
   * 
   * Between two of the tenant's own extensions (or to a flow number).
   */
  export type Direction = 'inbound' | 'outbound' | 'internal';
  /**
   * One side of a call.
   */
  export interface Party {
    /**
     * Number or extension, E.164 (`+15550100`) where known, otherwise
     * as signalled (the user part of the SIP URI, e.g. `1001`).
     */
    number: string,
    /**
     * Display name as signalled, or as found by the tenant's CRM.
     */
    displayName?: string,
  }
  /**
   * Everything a plugin may know about a call at the moment of an event.
   */
  export interface CallSnapshot {
    /**
     * Unique, opaque id of the call inside the tenant.
     */
    callId: string,
    /**
     * The tenant's id (its slug, e.g. `acme`).
     */
    tenant: string,
    direction: Direction,
    /**
     * Who is calling.
     */
    caller: Party,
    /**
     * Who was called (for a DID, the DID; for an extension, the extension).
     */
    callee: Party,
    /**
     * The number exactly as dialled (DNIS / Request-URI user part).
     * Useful for routing by dialled number, e.g. a VIP hotline.
     */
    dialled: string,
    /**
     * Labels attached to the call so far (`set-tag`), shown to agents.
     */
    tags: Array<string>,
    /**
     * When the call arrived.
     */
    startTime: Timestamp,
    /**
     * When the call was answered by anybody (the flow or an agent).
     */
    answerTime?: Timestamp,
    /**
     * The tenant's IANA time zone, e.g. `Europe/Paris`.
     */
    timeZone: string,
    /**
     * Name of the flow currently handling the call (see `goto-flow`).
     */
    flow: string,
    /**
     * Version of the plugin serving the call; in-flight calls keep the
     * version they started with.
     */
    pluginVersion: number,
  }
  /**
   * One leg (a SIP dialog towards one party) of a call.
   */
  export interface LegRecord {
    /**
     * Extension, number or SIP URI this leg rang.
     */
    target: string,
    startTime: Timestamp,
    answerTime?: Timestamp,
    endTime: Timestamp,
    sipCode: number,
  }
  /**
   * How a call ended.
   * # Variants
   * 
   * ## `"answered"`
   * 
   * Somebody answered (an agent, an extension, or the far end).
   * ## `"no-answer"`
   * 
   * Rang out without an answer.
   * ## `"busy"`
   * 
   * The callee was busy.
   * ## `"failed"`
   * 
   * The call failed (network, plugin fallback, carrier error).
   * ## `"cancelled"`
   * 
   * The caller hung up before an answer (abandoned).
   * ## `"voicemail"`
   * 
   * The call ended in a voicemail box.
   * ## `"rejected"`
   * 
   * The flow rejected the call on purpose.
   */
  export type Disposition = 'answered' | 'no-answer' | 'busy' | 'failed' | 'cancelled' | 'voicemail' | 'rejected';
  /**
   * Which side ended a call.
   * # Variants
   * 
   * ## `"caller"`
   * 
   * ## `"callee"`
   * 
   * ## `"system"`
   * 
   * The host (a flow `hangup`, a timeout, a limit).
   */
  export type HangupSide = 'caller' | 'callee' | 'system';
  /**
   * A finished call, as stored in the tenant's call detail records.
   */
  export interface CallRecord {
    callId: string,
    tenant: string,
    direction: Direction,
    caller: Party,
    callee: Party,
    dialled: string,
    startTime: Timestamp,
    answerTime?: Timestamp,
    endTime: Timestamp,
    disposition: Disposition,
    /**
     * Who ended the call, when known.
     */
    hangupBy?: HangupSide,
    /**
     * Final SIP status code of the call (200 when it was answered).
     */
    sipCode: number,
    /**
     * Queue the call went through, if any.
     */
    queue?: string,
    /**
     * Agent (extension) that took the call, if any.
     */
    agent?: string,
    tags: Array<string>,
    /**
     * Id of the recording, when the call was recorded.
     */
    recording?: string,
    /**
     * The flow plugin and version that decided the call.
     */
    flowPlugin?: string,
    pluginVersion?: number,
    /**
     * Every leg the call had, in the order they were created.
     */
    legs: Array<LegRecord>,
  }
  /**
   * A contact known to the tenant's CRM.
   */
  export interface Contact {
    /**
     * The CRM's own id of the contact.
     */
    id: string,
    /**
     * Full name, as an agent should see it.
     */
    name: string,
    company?: string,
    email?: string,
    /**
     * Agent (extension) who owns this contact in the CRM, for sticky
     * routing.
     */
    owner?: string,
    /**
     * Link to the contact in the CRM, for the agent's screen pop.
     */
    url?: string,
    /**
     * Labels, e.g. `vip`.
     */
    tags: Array<string>,
    /**
     * Any other fields worth showing, as name/value pairs.
     */
    fields: Array<[string, string]>,
  }
  /**
   * Kinds of live call notices.
   * # Variants
   * 
   * ## `"call-started"`
   * 
   * ## `"call-queued"`
   * 
   * ## `"call-answered"`
   * 
   * ## `"call-abandoned"`
   * 
   * ## `"voicemail-left"`
   * 
   * ## `"recording-ready"`
   * 
   * ## `"call-ended"`
   */
  export type NoticeKind = 'call-started' | 'call-queued' | 'call-answered' | 'call-abandoned' | 'voicemail-left' | 'recording-ready' | 'call-ended';
  /**
   * A live event on one call.
   */
  export interface Notice {
    kind: NoticeKind,
    callId: string,
    at: Timestamp,
    queue?: string,
    agent?: string,
    /**
     * Free text: a voicemail id, a recording id, a reason.
     */
    detail?: string,
  }
}
