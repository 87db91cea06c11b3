/// <reference path="./types/wit/host.d.ts" />
/** For crm-connector and reporter plugins only. */
export class HttpError extends Error {
  kind: 'invalid-url' | 'transport' | 'too-large' | 'body';
}
export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | Uint8Array>;
  body?: string | Uint8Array;
  /** Sent as JSON with content-type application/json. */
  json?: unknown;
  /** Default 5000 (the host may cap it lower). */
  timeoutMs?: number;
  /** Default 1 MiB. */
  maxBodyBytes?: number;
}
export interface Response {
  status: number;
  headers: [string, Uint8Array][];
  body: Uint8Array;
  header(name: string): string | undefined;
  text(): string;
  json<V = unknown>(): V;
}
export function request(url: string, opts?: RequestOptions): Response;
export function get(url: string, opts?: RequestOptions): Response;
export function post(url: string, opts?: RequestOptions): Response;
