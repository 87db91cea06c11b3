// Small DOM helpers every page uses: elements, tables, forms, messages and
// formats. No framework: a page renders into its root and returns a
// function that undoes what it started (timers, event streams).

/** `h('button', {onclick, class: 'x'}, 'text', child…)`. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * A table: `columns` are `{label, value: row => text|Node, class?}`; an
 * empty list shows `empty`.
 */
export function table(columns, rows, { empty = 'Nothing yet.', caption } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', { class: c.class }, c.value(r))))))));
}

/** A labelled form field; `input` is the control. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input,
    hint ? h('small', { class: 'hint' }, hint) : null);
}

/** Show an error where the user acts: the API's message, the field named. */
export function errorText(e) {
  if (!e) return '';
  const m = e.message || String(e);
  // The API's validation messages already start with their field.
  return e.field && !m.startsWith(`${e.field}`) ? `${e.field}: ${m}` : m;
}

export function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, errorText(e));
}

/** A short message in the corner. */
export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast ${kind}` }, text);
  box.append(el);
  setTimeout(() => el.remove(), 5000);
}

/** `m:ss` or `h:mm:ss` for seconds. */
export function duration(secs) {
  if (secs === null || secs === undefined || Number.isNaN(secs)) return '–';
  const s = Math.max(0, Math.round(secs));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** A time (ms since the epoch) in the browser's zone. */
export function when(ms) {
  if (!ms) return '–';
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function percent(x) {
  return x === null || x === undefined ? '–' : `${Math.round(x * 1000) / 10} %`;
}

/**
 * Run `f` every `ms` (and once now) until the returned stop is called;
 * errors are shown in `onError` and do not stop it.
 */
export function every(ms, f, onError = () => {}) {
  let stopped = false;
  let timer;
  const tick = async () => {
    try { await f(); } catch (e) { onError(e); }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

/** A button that shows a spinner and the API's error while `f` runs. */
export function action(label, f, attrs = {}) {
  const b = h('button', { type: 'button', ...attrs }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try { await f(); } catch (e) { toast(errorText(e), 'error'); } finally { b.disabled = false; }
  });
  return b;
}
