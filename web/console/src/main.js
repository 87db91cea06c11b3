// The console's shell: who is signed in (GET /console/session), the pages
// their role may open (in the navigation and in the router), and the
// router itself (the part of the address after `#`). Pages live in
// pages/, listed in pages/index.js.

import './styles/base.css';
import { api, current, setSession } from './api.js';
import { h, fill, errorBox } from './ui.js';
import { pages } from './pages/index.js';
import signin from './pages/signin.js';

let cleanup = () => {};

/** The pages `session` may open, in navigation order. */
export function allowed(session) {
  return pages.filter((p) => p.roles.includes(session.role) && (!p.when || p.when(session)));
}

/** `#/admin/plugins/router` against `/admin/plugins/:name`. */
function match(pattern, path) {
  const a = pattern.split('/');
  const b = path.split('/');
  if (a.length !== b.length) return null;
  const params = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i].startsWith(':')) params[a[i].slice(1)] = decodeURIComponent(b[i]);
    else if (a[i] !== b[i]) return null;
  }
  return params;
}

function nav(session, path) {
  const list = allowed(session).filter((p) => p.nav);
  const groups = new Map();
  for (const p of list) {
    if (!groups.has(p.nav)) groups.set(p.nav, []);
    groups.get(p.nav).push(p);
  }
  fill(document.getElementById('nav'),
    [...groups].map(([group, ps]) => h('div', { class: 'nav-group' },
      groups.size > 1 ? h('span', { class: 'nav-title' }, group) : null,
      ps.map((p) => h('a', {
        href: `#${p.path}`,
        'aria-current': p.path === path || path.startsWith(`${p.path}/`) ? 'page' : false,
      }, p.title)))));
}

/** Render the page the address names (or the role's first page). */
async function route() {
  cleanup();
  cleanup = () => {};
  const main = document.getElementById('main');
  const session = current();
  if (!session) {
    document.getElementById('top').hidden = true;
    cleanup = signin.render(main, { signedIn }) || (() => {});
    return;
  }
  const path = location.hash.replace(/^#/, '') || '';
  const mine = allowed(session);
  let page = null;
  let params = null;
  for (const p of mine) {
    params = match(p.path, path);
    if (params) { page = p; break; }
  }
  if (!page) {
    const known = pages.some((p) => match(p.path, path));
    if (path && known) {
      nav(session, path);
      fill(main, h('h1', {}, 'Not allowed'),
        h('p', { class: 'error', role: 'alert' },
          `A ${session.role} may not open this page.`));
      return;
    }
    location.replace(`#${mine[0] ? mine[0].path : '/'}`);
    return;
  }
  nav(session, path);
  foldMenu();
  document.title = `${page.title} · Switchyard`;
  fill(main);
  // Keyboard users land at the new page's start; a control the user
  // already reached while the page was loading keeps the focus.
  main.focus({ preventScroll: true });
  try {
    cleanup = (await page.render(main, { session, params, go })) || (() => {});
  } catch (e) {
    fill(main, h('h1', {}, page.title), errorBox(e));
  }
}

/** Fold the navigation behind the Menu button (phone width). */
function foldMenu() {
  document.getElementById('nav').classList.add('folded');
  document.getElementById('menu').setAttribute('aria-expanded', 'false');
}

export function go(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

function signedIn(s) {
  setSession(s);
  showWho(s);
  route();
}

function showWho(s) {
  document.getElementById('top').hidden = false;
  const who = s.role === 'operator' ? 'operator'
    : `${s.name || s.extension || s.role} · ${s.role} · ${s.tenant}`;
  fill(document.getElementById('who'), who);
}

async function start() {
  try {
    // 204 (null) when nobody is signed in.
    const s = await api('GET', '/console/session');
    setSession(s);
    if (s) showWho(s);
  } catch {
    setSession(null);
  }
  document.getElementById('signout').addEventListener('click', async () => {
    try { await api('DELETE', '/console/session'); } catch { /* gone already */ }
    setSession(null);
    location.hash = '';
    route();
  });
  document.getElementById('menu').addEventListener('click', () => {
    const nav = document.getElementById('nav');
    const open = nav.classList.toggle('folded') === false;
    document.getElementById('menu').setAttribute('aria-expanded', String(open));
  });
  window.addEventListener('hashchange', route);
  window.addEventListener('session-ended', () => {
    setSession(null);
    route();
  });
  route();
}

start();
