/// <reference path="./switchyard-plugin-types.d.ts" />
declare module 'switchyard:plugin/queue-types@0.2.2' {
  export type CallSnapshot = import('switchyard:plugin/types@0.2.2').CallSnapshot;
  export type Contact = import('switchyard:plugin/types@0.2.2').Contact;
  export type Timestamp = import('switchyard:plugin/types@0.2.2').Timestamp;
  /**
   * The queue a caller waits in.
   */
  export interface QueueInfo {
    name: string,
    /**
     * Callers waiting right now, including this one.
     */
    waiting: number,
    /**
     * Agents of the queue logged in right now, busy or not. Added in
     * 0.2.0.
     */
    agentsLoggedIn: number,
  }
  /**
   * The caller waiting to be connected.
   */
  export interface WaitingCall {
    call: CallSnapshot,
    /**
     * Skills an agent needs.
     */
    skills: Array<string>,
    priority: number,
    waitedSeconds: number,
    /**
     * The agent this caller last spoke to, if the host knows one.
     */
    lastAgent?: string,
    /**
     * The caller's contact in the tenant's CRM (its `owner` is the
     * agent who owns the contact), when the tenant has a
     * crm-connector and it knows the caller. Added in 0.2.0.
     */
    contact?: Contact,
    /**
     * True for a callback placeholder: the customer chose to be
     * called back and is not on the line; the agent who takes it is
     * connected to them by an outbound call. Added in 0.2.0.
     */
    callback: boolean,
  }
  /**
   * An agent who could take the call now (logged in, idle, in the queue).
   */
  export interface AgentCandidate {
    /**
     * Agent id (their extension number).
     */
    id: string,
    skills: Array<string>,
    /**
     * Calls answered today.
     */
    callsToday: number,
    /**
     * Seconds spent talking today.
     */
    talkSecondsToday: number,
    /**
     * When the agent's last call ended, if they had one today.
     */
    lastCallEnd?: Timestamp,
    /**
     * Position in the queue's configured member order (0 first).
     */
    order: number,
    /**
     * The agent's level in each of their skills (skill, level 1-255;
     * higher is better), as the tenant configured the agent. Added in
     * 0.2.0.
     */
    skillLevels: Array<[string, number]>,
    /**
     * The agent's penalty in this queue (0 none; a higher penalty
     * means "offer to others first"). Added in 0.2.0.
     */
    penalty: number,
    /**
     * Since when the agent has been idle: the end of their last call,
     * or when they logged in or became available, whichever is later.
     * Added in 0.2.0.
     */
    idleSince: Timestamp,
  }
}
