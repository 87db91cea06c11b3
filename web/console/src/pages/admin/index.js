// The admin pages, in navigation order (see ../index.js for a page's shape).
// Admins configure the tenant; supervisors get the same pages read-only
// (the host lets them read, not change). Each resource is a list page and
// a record page (`/admin/queues` and `/admin/queues/:key`, crud.js).
import resources from './resources.js';
import files from './files.js';
import plugins from './plugins.js';
import extras from './extras.js';
import { billingPage } from './billing.js';
import { cataloguePage } from './catalogue.js';

export default [...resources, ...plugins, cataloguePage, ...files, ...extras, billingPage];
