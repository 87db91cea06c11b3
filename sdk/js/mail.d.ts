/// <reference path="./types/wit/host.d.ts" />
/** For reporter plugins only: one plain-text message through the operator's relay. */
export function send(message: { to: string | string[]; subject: string; body: string }): void;
