// The supervisor pages, in navigation order (see ../index.js for a page's shape).
import wallboard from './wallboard.js';
import reports from './reports.js';

export default [wallboard, reports];
