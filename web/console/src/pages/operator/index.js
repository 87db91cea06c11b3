// The operator pages, in navigation order (see ../index.js for a page's shape).
import tenants from './tenants.js';

export default [...tenants];
