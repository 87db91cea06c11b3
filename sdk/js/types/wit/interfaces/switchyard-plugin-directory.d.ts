declare module 'switchyard:plugin/directory@0.2.2' {
  export function getExtension(number: string): Extension | undefined;
  /**
   * Member extensions of a ring group, in ring order.
   */
  export function ringGroupMembers(name: string): Array<string> | undefined;
  export function getQueueStatus(name: string): QueueStatus | undefined;
  export interface Extension {
    number: string,
    displayName?: string,
    /**
     * At least one device is registered right now.
     */
    registered: boolean,
    /**
     * The extension has a voicemail box.
     */
    hasVoicemail: boolean,
  }
  export interface QueueStatus {
    name: string,
    waiting: number,
    agentsLoggedIn: number,
    agentsAvailable: number,
    /**
     * Seconds the longest-waiting caller has waited.
     */
    longestWaitSeconds: number,
    /**
     * Average wait of answered calls today, seconds.
     */
    averageWaitSeconds: number,
  }
}
