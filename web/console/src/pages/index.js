// Every page of the console, in navigation order. A page is
// `{path, title, nav, roles, when?, render(root, {session, params, go})}`:
// `roles` are the session roles that may open it (`operator`, `admin`,
// `supervisor`, `agent`) — the host refuses the API calls of any other role
// anyway; `nav` is the navigation group it is listed under (none: not
// listed, e.g. a detail page); `render` returns a function that stops what
// it started.

import home from './home.js';

export const pages = [
  home,
];
