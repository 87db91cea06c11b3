/// <reference path="./types/wit/host.d.ts" />
import type * as D from 'switchyard:plugin/directory@0.2.2';
import type { Contact } from 'switchyard:plugin/types@0.2.2';
/** For call-flow plugins only. */
export function extension(number: string): D.Extension | undefined;
export function ringGroupMembers(name: string): string[] | undefined;
export function queueStatus(name: string): D.QueueStatus | undefined;
export function contact(number: string): Contact | undefined;
