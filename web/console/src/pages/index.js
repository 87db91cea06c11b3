// Every page of the console, in navigation order. A page is
// `{path, title, nav, roles, when?, render(root, {session, params, go})}`:
// `roles` are the session roles that may open it (`operator`, `admin`,
// `supervisor`, `agent`) — the host refuses the API calls of any other role
// anyway; `when(session)` narrows further (e.g. only with an extension);
// `nav` is the navigation group it is listed under (none: not listed, e.g.
// a detail page); `render` returns a function that stops what it started.
// Each group of pages lives in its own directory and lists its pages in
// its index.js; a page's style sheet is imported by the page
// (`import './agent.css'`) and bundled into console.css.

import agent from './agent/index.js';
import supervisor from './supervisor/index.js';
import admin from './admin/index.js';
import operator from './operator/index.js';
import home from './home.js';

export const pages = [...agent, ...supervisor, ...admin, ...operator, home];
