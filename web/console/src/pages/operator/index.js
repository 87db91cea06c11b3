// The operator pages, in navigation order (see ../index.js for a page's shape).
import system from './system.js';
import tenants from './tenants.js';
import plans from './plans.js';
import { publishPage } from '../admin/catalogue.js';

export default [system, ...tenants, ...plans, publishPage];
