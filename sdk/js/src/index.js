// @switchyard/plugin-sdk: write Switchyard plugins in JavaScript.
// Everything here works in every world; `@switchyard/plugin-sdk/directory`
// is for call flows, `/http` for crm-connector and reporter plugins, `/mail`
// for reporters.
export * from './flow.js';
export * from './worlds.js';
export * as state from './state.js';
export * as log from './log.js';
export * as config from './config.js';
export * as kv from './kv.js';
export * as destination from './destination.js';
export * as time from './time.js';
export { KvError } from './kv.js';
