// Read-only view of the tenant's directory, and "who is calling?" through
// the tenant's CRM connector. For call-flow plugins only (the host refuses
// these imports in other worlds).
import * as host from 'switchyard:plugin/directory@0.2.2';
import { lookup } from 'switchyard:plugin/contacts@0.2.2';

/** The extension `number` ({number, displayName, registered, hasVoicemail}), or undefined. */
export const extension = (number) => host.getExtension(number);
/** Member extensions of a ring group, in ring order, or undefined. */
export const ringGroupMembers = (name) => host.ringGroupMembers(name);
/** Live status of a queue (waiting, agentsLoggedIn, agentsAvailable, waits), or undefined. */
export const queueStatus = (name) => host.getQueueStatus(name);
/** The caller's contact in the tenant's CRM, or undefined. */
export const contact = (number) => lookup(number);
