/// <reference path="./interfaces/switchyard-plugin-account-events.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-account-types.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-config.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-contacts.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-crm.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-directory.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-flow-types.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-flow.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-kv.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-log.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-mail.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-queue-types.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-ranking-types.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-ranking.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-reporting.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-strategy.d.ts" />
/// <reference path="./interfaces/switchyard-plugin-types.d.ts" />
/// <reference path="./interfaces/wasi-clocks-monotonic-clock.d.ts" />
/// <reference path="./interfaces/wasi-http-outgoing-handler.d.ts" />
/// <reference path="./interfaces/wasi-http-types.d.ts" />
/// <reference path="./interfaces/wasi-io-error.d.ts" />
/// <reference path="./interfaces/wasi-io-poll.d.ts" />
/// <reference path="./interfaces/wasi-io-streams.d.ts" />
declare module 'switchyard:plugin/host@0.2.2' {
  export type * as SwitchyardPluginAccountTypes022 from 'switchyard:plugin/account-types@0.2.2'; // import switchyard:plugin/account-types@0.2.2
  export type * as SwitchyardPluginConfig022 from 'switchyard:plugin/config@0.2.2'; // import switchyard:plugin/config@0.2.2
  export type * as SwitchyardPluginContacts022 from 'switchyard:plugin/contacts@0.2.2'; // import switchyard:plugin/contacts@0.2.2
  export type * as SwitchyardPluginDirectory022 from 'switchyard:plugin/directory@0.2.2'; // import switchyard:plugin/directory@0.2.2
  export type * as SwitchyardPluginFlowTypes022 from 'switchyard:plugin/flow-types@0.2.2'; // import switchyard:plugin/flow-types@0.2.2
  export type * as SwitchyardPluginKv022 from 'switchyard:plugin/kv@0.2.2'; // import switchyard:plugin/kv@0.2.2
  export type * as SwitchyardPluginLog022 from 'switchyard:plugin/log@0.2.2'; // import switchyard:plugin/log@0.2.2
  export type * as SwitchyardPluginMail022 from 'switchyard:plugin/mail@0.2.2'; // import switchyard:plugin/mail@0.2.2
  export type * as SwitchyardPluginQueueTypes022 from 'switchyard:plugin/queue-types@0.2.2'; // import switchyard:plugin/queue-types@0.2.2
  export type * as SwitchyardPluginRankingTypes022 from 'switchyard:plugin/ranking-types@0.2.2'; // import switchyard:plugin/ranking-types@0.2.2
  export type * as SwitchyardPluginTypes022 from 'switchyard:plugin/types@0.2.2'; // import switchyard:plugin/types@0.2.2
  export type * as WasiClocksMonotonicClock0212 from 'wasi:clocks/monotonic-clock@0.2.12'; // import wasi:clocks/monotonic-clock@0.2.12
  export type * as WasiHttpOutgoingHandler0212 from 'wasi:http/outgoing-handler@0.2.12'; // import wasi:http/outgoing-handler@0.2.12
  export type * as WasiHttpTypes0212 from 'wasi:http/types@0.2.12'; // import wasi:http/types@0.2.12
  export type * as WasiIoError0212 from 'wasi:io/error@0.2.12'; // import wasi:io/error@0.2.12
  export type * as WasiIoPoll0212 from 'wasi:io/poll@0.2.12'; // import wasi:io/poll@0.2.12
  export type * as WasiIoStreams0212 from 'wasi:io/streams@0.2.12'; // import wasi:io/streams@0.2.12
  export * as flow from 'switchyard:plugin/flow@0.2.2'; // export switchyard:plugin/flow@0.2.2
  export * as strategy from 'switchyard:plugin/strategy@0.2.2'; // export switchyard:plugin/strategy@0.2.2
  export * as ranking from 'switchyard:plugin/ranking@0.2.2'; // export switchyard:plugin/ranking@0.2.2
  export * as crm from 'switchyard:plugin/crm@0.2.2'; // export switchyard:plugin/crm@0.2.2
  export * as reporting from 'switchyard:plugin/reporting@0.2.2'; // export switchyard:plugin/reporting@0.2.2
  export * as accountEvents from 'switchyard:plugin/account-events@0.2.2'; // export switchyard:plugin/account-events@0.2.2
}
