// What the operator's pages share: their navigation group and role, and
// the features and limits of tenants and plans (tenants.rs, plans.rs).

export const OPERATE = { nav: 'Operate', roles: ['operator'] };

export const FEATURES = [
  ['recording', 'Call recording'], ['recording_mono', 'Recordings in mono'], ['advanced_ivr', 'Advanced IVR'],
  ['reporting', 'Reporting'], ['crm', 'CRM connector'], ['queues', 'Queues'], ['conferences', 'Conferences'],
  ['browser_phones', 'Browser phones'],
];
export const LIMITS = [
  ['max_concurrent_calls', 'Calls at once', 20], ['max_calls_per_second', 'Calls per second', 5],
  ['plugin_memory_mib', 'Plugin memory, MiB', 32], ['plugin_cpu_ms', 'Plugin CPU per call, ms', 50],
  ['max_extensions', 'Extensions (0: no cap)', 0], ['max_numbers', 'Numbers (0: no cap)', 0],
  ['recording_storage_mib', 'Recording storage, MiB (0: no cap)', 0],
];
