// The one "list + create form + edit page + delete" every configuration
// page is made of. A resource is described once (its columns, its form
// fields, how a form becomes the API's JSON) and `resource(spec)` turns it
// into two console pages: the list at `spec.path` (with the create form)
// and the record at `spec.path/:key` (the edit form, extra sections such
// as a queue's agents, and delete). Supervisors may read what the API lets
// them read: they get the same pages with the controls that change things
// left out, since the host would refuse those calls anyway.

import { h, fill, table, field, toast } from '../../ui.js';
import './admin.css';

/** "Deleted", "Revoked". */
const past = (verb = 'Delete') => `${verb}d`;

/** Whether the session may change tenant configuration. */
export const canWrite = (session) => session.role === 'admin' || session.role === 'operator';

/** `a.b.c` of an object, or undefined. */
function dig(obj, path) {
  return path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

/** Set `a.b.c` in an object, making the objects on the way. */
function bury(obj, path, value) {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k];
  }
  o[keys[keys.length - 1]] = value;
}

/** Split "a, b\nc" into ['a', 'b', 'c']. */
export function splitList(text) {
  return String(text || '').split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
}

/**
 * The API's message as it gave it. Validation errors already start with
 * the field's name (`password: must be 8 to 128 characters`), so the
 * message is shown as it is, not prefixed again.
 */
export function apiMessage(e) {
  return (e && (e.message || String(e))) || '';
}

/**
 * A form that sends one file raw (a prompt's WAV, a plugin's component):
 * a name (defaulted from the file's name by `nameFrom`) and the file; on
 * submit `send(name, file)` stores it and `stored(result, name)` words
 * what was stored. The host's refusal is shown exactly as the API gives
 * it, in the result box (`.upload-result`, announced). Returns the form
 * and the result box in one element.
 */
export function uploadForm({
  id, label, nameLabel, nameHint, placeholder, fileLabel, accept, submitLabel = 'Upload',
  busy = null, missing, fixedName = null, nameFrom, send, stored, onDone = async () => {},
}) {
  const name = h('input', {
    type: 'text', name: `${id}-name`, id: `${id}-name`, required: true, placeholder,
    value: fixedName || '', autocomplete: 'off',
  });
  if (fixedName) name.readOnly = true;
  const file = h('input', { type: 'file', name: `${id}-file`, id: `${id}-file`, accept, required: true });
  const result = h('div', { class: 'upload-result', id: `${id}-upload-result`, role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary', id: `${id}-upload` }, submitLabel);
  file.addEventListener('change', () => {
    if (!name.value && file.files[0]) name.value = nameFrom(file.files[0].name);
  });
  const form = h('form', {
    class: 'upload',
    'aria-label': label,
    onsubmit: async (ev) => {
      ev.preventDefault();
      fill(result);
      const n = name.value.trim();
      const f = file.files[0];
      if (!n || !f) {
        fill(result, h('p', { class: 'error' }, !n ? missing.name : missing.file));
        return;
      }
      submit.disabled = true;
      if (busy) fill(result, h('p', { class: 'loading' }, busy));
      try {
        const rec = await send(n, f);
        fill(result, h('p', { class: 'ok' }, stored(rec, n)));
        file.value = '';
        if (!fixedName) name.value = '';
        await onDone(rec, n);
      } catch (e) {
        // Exactly what the host said is wrong with the file.
        fill(result, h('p', { class: 'error', id: `${id}-upload-error` }, apiMessage(e)));
      } finally {
        submit.disabled = false;
      }
    },
  }, field(nameLabel, name, nameHint), field(fileLabel, file), submit);
  return h('div', {}, form, result);
}

/**
 * A form built from field specs:
 *   {name, label, type: text|number|password|checkbox|select|list|lines|json|textarea,
 *    (list: one line, comma-separated → array; lines: one item a line;
 *     checks: a checkbox for each of `options`, → array of the checked)
 *    options: [[value, label]…] or (ctx) => …, hint, placeholder, required,
 *    only: 'create'|'edit', empty: value sent when left empty (default: not sent),
 *    from: row => control value, readonly, datalist: [values…]}
 * Returns {form, controls, values(), showError(e), clearError()}.
 */
export function buildForm(fields, { row = null, ctx = {}, submitLabel = 'Save', onSubmit, readOnly = false, extraButtons = [] }) {
  const controls = new Map();
  const messages = new Map();
  const mode = row ? 'edit' : 'create';
  const error = h('div', { class: 'form-error', role: 'alert', 'aria-live': 'assertive' });
  const parts = [];
  for (const f of fields) {
    if (f.only && f.only !== mode) continue;
    if (f.type === 'heading') {
      // A heading between groups of fields (a tenant's limits, features).
      parts.push(h('h3', { class: 'form-heading' }, f.label, f.hint ? h('small', { class: 'hint' }, ` ${f.hint}`) : null));
      continue;
    }
    const raw = row ? (f.from ? f.from(row, ctx) : dig(row, f.name)) : f.default;
    let input;
    const disabled = readOnly || (row && f.fixed);
    if (f.type === 'checkbox') {
      input = h('input', { type: 'checkbox', name: f.name, disabled });
      input.checked = Boolean(raw);
    } else if (f.type === 'checks') {
      // Several of a known set (ring-group members, moderators): a box
      // each, in a fieldset whose legend is the label. Values given that
      // are not in the set (a deleted extension) are kept as boxes too.
      const opts = typeof f.options === 'function' ? f.options(ctx) : f.options;
      const chosen = new Set(raw || []);
      const all = [...opts.map(String), ...[...chosen].filter((v) => !opts.map(String).includes(v))];
      input = h('fieldset', { class: 'checks', name: f.name, disabled },
        h('legend', {}, f.label),
        all.length ? all.map((v) => {
          const id = `f-${Math.random().toString(36).slice(2, 9)}`;
          const box = h('input', { type: 'checkbox', id, value: v, disabled });
          box.checked = chosen.has(v);
          return h('span', { class: 'check-item' }, box, h('label', { for: id }, v));
        }) : h('span', { class: 'hint' }, 'None to choose from.'));
    } else if (f.type === 'select') {
      const opts = typeof f.options === 'function' ? f.options(ctx) : f.options;
      input = h('select', { name: f.name, disabled },
        opts.map(([v, label]) => h('option', { value: v }, label ?? v)));
      input.value = raw == null ? opts[0][0] : String(raw);
    } else if (['lines', 'json', 'textarea'].includes(f.type)) {
      let text = raw;
      if (f.type === 'lines') text = (raw || []).join('\n');
      if (f.type === 'json') text = raw === undefined ? '' : JSON.stringify(raw, null, 2);
      input = h('textarea', { name: f.name, rows: f.rows || (f.type === 'json' ? 10 : 3), disabled, spellcheck: 'false' });
      input.value = text == null ? '' : text;
    } else {
      const list = f.datalist ? (typeof f.datalist === 'function' ? f.datalist(ctx) : f.datalist) : null;
      const listId = list ? `dl-${Math.random().toString(36).slice(2, 9)}` : undefined;
      input = h('input', {
        type: f.type && f.type !== 'list' ? f.type : 'text', name: f.name, placeholder: f.placeholder, disabled,
        autocomplete: f.type === 'password' ? 'new-password' : 'off',
        required: f.required && !row ? true : undefined, min: f.min, max: f.max, list: listId,
      });
      // A list is one line, its items comma-separated.
      input.value = raw == null ? '' : (Array.isArray(raw) ? raw.join(', ') : String(raw));
      if (list) parts.push(h('datalist', { id: listId }, list.map((v) => h('option', { value: v }))));
    }
    controls.set(f.name, { f, input });
    const msg = h('small', { class: 'field-error', id: `${f.name.replace(/\W/g, '-')}-${Math.random().toString(36).slice(2, 7)}-err` });
    messages.set(f.name, msg);
    let wrapped;
    if (f.type === 'checks') {
      wrapped = h('div', { class: 'field' }, input, f.hint ? h('small', { class: 'hint' }, f.hint) : null);
    } else if (f.type === 'checkbox') {
      const id = `f-${Math.random().toString(36).slice(2, 9)}`;
      input.id = id;
      wrapped = h('div', { class: 'field check' }, input, h('label', { for: id }, f.label),
        f.hint ? h('small', { class: 'hint' }, f.hint) : null);
    } else {
      wrapped = field(f.label, input, f.hint);
    }
    wrapped.append(msg);
    if (f.wide || ['json', 'textarea', 'lines'].includes(f.type)) wrapped.classList.add('wide');
    parts.push(wrapped);
  }

  const clearError = () => {
    fill(error);
    for (const [name, msg] of messages) {
      fill(msg);
      controls.get(name).input.removeAttribute('aria-invalid');
    }
  };

  /** Show an error at the form, and at its field when it names one. */
  const showError = (e) => {
    clearError();
    fill(error, h('p', { class: 'error' }, apiMessage(e)));
    const name = e && e.field;
    const c = name && (controls.get(name)
      || [...controls.values()].find((x) => x.f.apiField === name || x.f.name.startsWith(`${name}.`)));
    if (c) {
      c.input.setAttribute('aria-invalid', 'true');
      const msg = messages.get(c.f.name);
      fill(msg, apiMessage(e));
      c.input.setAttribute('aria-describedby', msg.id);
      (c.input.matches('fieldset') ? c.input.querySelector('input') || c.input : c.input).focus();
    }
  };

  /** The form's values as the API's JSON; throws (with .field) on a parse error. */
  const values = () => {
    const body = {};
    for (const [name, { f, input }] of controls) {
      if (f.readonly || (row && f.fixed)) continue;
      let v;
      if (f.type === 'checkbox') v = input.checked;
      else if (f.type === 'checks') {
        // The stored order stays (a sequential ring group rings in it);
        // newly ticked ones go at the end.
        const order = (row && (f.from ? f.from(row, ctx) : dig(row, name))) || [];
        const rank = (x) => (order.includes(x) ? order.indexOf(x) : order.length);
        v = [...input.querySelectorAll('input:checked')].map((b) => b.value)
          .map((x, i) => [rank(x), i, x]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((e) => e[2]);
      }
      else if (f.type === 'list' || f.type === 'lines') v = splitList(input.value);
      else if (f.type === 'json') {
        const text = input.value.trim();
        if (!text) v = undefined;
        else {
          try { v = JSON.parse(text); } catch (err) {
            const e = new Error(`${name}: not valid JSON: ${err.message}`);
            e.field = name;
            throw e;
          }
        }
      } else {
        const text = input.value.trim();
        if (text === '') v = f.empty;
        else if (f.type === 'number') {
          v = Number(text);
          if (!Number.isFinite(v)) {
            const e = new Error(`${name}: not a number`);
            e.field = name;
            throw e;
          }
        } else v = f.type === 'password' ? input.value : text;
      }
      if (v !== undefined) bury(body, name, v);
    }
    return body;
  };

  const submit = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  const form = h('form', {
    class: 'crud-form',
    novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      if (readOnly) return;
      clearError();
      let body;
      try { body = values(); } catch (e) { showError(e); return; }
      submit.disabled = true;
      try { await onSubmit(body); } catch (e) { showError(e); } finally { submit.disabled = false; }
    },
  }, h('div', { class: 'form-grid' }, parts), error,
  readOnly ? null : h('div', { class: 'row' }, submit, extraButtons));
  return { form, controls, values, showError, clearError };
}

/** A delete button that asks in place (no window.confirm: keyboard and tests alike). */
export function deleteButton(what, onDelete, { typeToConfirm = null, verb = 'Delete' } = {}) {
  const box = h('span', { class: 'confirm-box' });
  const start = () => {
    const input = typeToConfirm
      ? h('input', { type: 'text', 'aria-label': `Type ${typeToConfirm} to confirm`, placeholder: typeToConfirm, class: 'confirm-input' })
      : null;
    const yes = h('button', { type: 'button', class: 'danger confirm-yes' }, `${verb} ${what}`);
    const no = h('button', { type: 'button' }, 'Cancel');
    const err = h('span', { class: 'error', role: 'alert' });
    yes.addEventListener('click', async () => {
      if (input && input.value.trim() !== typeToConfirm) {
        fill(err, `Type ${typeToConfirm} to confirm.`);
        input.focus();
        return;
      }
      yes.disabled = true;
      try { await onDelete(); } catch (e) { fill(err, apiMessage(e)); yes.disabled = false; }
    });
    no.addEventListener('click', reset);
    fill(box, input ? h('span', { class: 'hint' }, `Type ${typeToConfirm}: `) : null, input, yes, no, err);
    (input || no).focus();
  };
  const reset = () => {
    const b = h('button', { type: 'button', class: 'danger', 'aria-label': `${verb} ${what}` }, verb);
    b.addEventListener('click', start);
    fill(box, b);
  };
  reset();
  return box;
}

/** A secret shown once (a new password or token), with a copy button. */
export function secretBox(label, secret, note) {
  const code = h('code', { class: 'secret' }, secret);
  const copy = h('button', { type: 'button', class: 'copy' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret);
      toast('Copied.');
    } catch {
      // No clipboard permission (plain HTTP, headless): select it instead.
      const r = document.createRange();
      r.selectNodeContents(code);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(r);
      toast('Selected: press Ctrl+C to copy.');
    }
  });
  return h('div', { class: 'card secret-card', role: 'status' },
    h('p', {}, h('strong', {}, label)), h('div', { class: 'row' }, code, copy),
    h('p', { class: 'hint' }, note || 'It is shown this once: keep it now.'));
}

/** A header row: the title and, at the right, buttons. */
export function heading(title, ...right) {
  return h('div', { class: 'page-head' }, h('h1', {}, title), h('div', { class: 'row' }, right));
}

/**
 * Two pages for one resource. spec:
 *   path, title, noun, nav ('Configure'), roles, intro,
 *   load(ctx) → rows; one(key, ctx) → row (default: from the list);
 *   key(row); columns; fields; prepare(session) → ctx for selects;
 *   create(body, ctx) → created; update(key, body, row, ctx); remove(key, row);
 *   toBody(body, {row, ctx}) → body; created(result, body) → Node shown once;
 *   sections(row, {ctx, session, refresh, writable}) → Nodes under the edit form;
 *   rowActions(row, {refresh, writable}) → Nodes in the list's row;
 *   typeToConfirm: true → deleting asks to type the key.
 */
export function resource(spec) {
  const roles = spec.roles || ['admin', 'supervisor'];
  const nav = spec.nav === undefined ? 'Configure' : spec.nav;
  const writable = (session) => (spec.writable ? spec.writable(session) : canWrite(session));
  const href = (key) => `#${spec.path}/${encodeURIComponent(key)}`;

  const list = {
    path: spec.path,
    title: spec.title,
    nav,
    roles,
    async render(root, { session, go }) {
      fill(root, h('p', { class: 'loading' }, 'Loading…'));
      const ctx = spec.prepare ? await spec.prepare(session) : {};
      const w = writable(session);
      const status = h('div', { class: 'list-status', role: 'status' });
      const creator = h('div', { class: 'creator' });
      const listBox = h('div', { class: 'list-box' }, h('p', { class: 'loading' }, 'Loading…'));
      const newBtn = w && spec.create
        ? h('button', { type: 'button', class: 'primary', 'aria-expanded': 'false', id: `new-${spec.noun.replace(/\W/g, '-')}` }, `New ${spec.noun}`)
        : null;
      let rows = [];
      // A filter over everything a row holds: enough to find one
      // extension among hundreds without a search API.
      const filter = h('input', { type: 'search', class: 'list-filter', placeholder: `Find a ${spec.noun}…`, 'aria-label': `Find a ${spec.noun}` });
      let draw = () => {};
      filter.addEventListener('input', () => draw());

      const refresh = async () => {
        try {
          rows = await spec.load(ctx);
        } catch (e) {
          fill(listBox, h('p', { class: 'error', role: 'alert' }, apiMessage(e)));
          return;
        }
        const columns = [
          ...spec.columns.map((c, i) => (i === 0 && spec.one !== false
            ? { ...c, value: (r) => h('a', { href: href(spec.key(r)) }, c.value(r)) }
            : c)),
        ];
        const actions = (r) => h('div', { class: 'row actions' },
          spec.rowActions ? spec.rowActions(r, { refresh, writable: w, ctx, session }) : null,
          w && spec.remove ? deleteButton(`${spec.noun} ${spec.key(r)}`, async () => {
            await spec.remove(spec.key(r), r);
            toast(`${past(spec.verb)} ${spec.noun} ${spec.key(r)}.`);
            fill(status, `${past(spec.verb)} ${spec.noun} ${spec.key(r)}.`);
            await refresh();
            // The row (and the focused button) is gone: keep the keyboard
            // user on the page, at the message that says what happened.
            status.tabIndex = -1;
            status.focus();
          }, { typeToConfirm: spec.typeToConfirm ? spec.key(r) : null, verb: spec.verb }) : null);
        const hasActions = spec.rowActions || (w && spec.remove);
        draw = () => {
          const q = filter.value.trim().toLowerCase();
          const shown = q ? rows.filter((r) => JSON.stringify(r).toLowerCase().includes(q)) : rows;
          fill(listBox, table(hasActions ? [...columns, { label: 'Actions', value: actions, class: 'actions-col' }] : columns,
            shown, { empty: q ? 'Nothing matches.' : spec.empty || `No ${spec.noun}s yet.` }));
          if (listBox.querySelector('table')) listBox.querySelector('table').dataset.resource = spec.noun;
        };
        filter.hidden = rows.length < 6 && !filter.value;
        draw();
      };

      const openCreate = () => {
        if (creator.firstChild) {
          fill(creator);
          newBtn.setAttribute('aria-expanded', 'false');
          return;
        }
        newBtn.setAttribute('aria-expanded', 'true');
        const once = h('div', { class: 'once' });
        const f = buildForm(spec.fields, {
          ctx,
          submitLabel: `Create ${spec.noun}`,
          extraButtons: [h('button', { type: 'button', onclick: () => { fill(creator); newBtn.setAttribute('aria-expanded', 'false'); newBtn.focus(); } }, 'Cancel')],
          onSubmit: async (body) => {
            const b = spec.toBody ? spec.toBody(body, { row: null, ctx }) : body;
            const result = await spec.create(b, ctx);
            toast(`Created ${spec.noun} ${spec.key(spec.createdRow ? spec.createdRow(result) : result) ?? ''}.`);
            await refresh();
            const shown = spec.created ? spec.created(result, b) : null;
            if (shown) {
              // A secret shown once stays on this page until dismissed.
              shown.append(h('button', { type: 'button', class: 'done', onclick: () => { fill(creator); newBtn.setAttribute('aria-expanded', 'false'); newBtn.focus(); } }, 'Done'));
              fill(creator, shown);
              shown.querySelector('button')?.focus();
            } else {
              fill(creator);
              newBtn.setAttribute('aria-expanded', 'false');
              fill(status, `Created ${spec.noun}.`);
            }
          },
        });
        if (spec.formExtras) spec.formExtras(f, { row: null, ctx });
        fill(creator, h('section', { class: 'card', 'aria-label': `New ${spec.noun}` },
          h('h2', {}, `New ${spec.noun}`), f.form, once));
        f.form.querySelector('input, select, textarea')?.focus();
      };
      if (newBtn) newBtn.addEventListener('click', openCreate);

      fill(root, heading(spec.title, newBtn),
        spec.intro ? h('p', { class: 'hint intro' }, spec.intro) : null,
        w ? null : h('p', { class: 'badge readonly-note' }, 'Read only: changes need an admin.'),
        creator, status, spec.above ? spec.above({ ctx, session, refresh }) : null, filter, listBox);
      // Not awaited: the shell focuses <main> when render resolves, and a
      // form opened meanwhile must not lose focus to it when the list comes.
      refresh();
      return spec.cleanup ? spec.cleanup : undefined;
    },
  };

  const detail = {
    path: `${spec.path}/:key`,
    title: spec.title,
    roles,
    async render(root, { session, params, go }) {
      fill(root, h('p', { class: 'loading' }, 'Loading…'));
      const ctx = spec.prepare ? await spec.prepare(session) : {};
      const w = writable(session);
      const key = params.key;
      const stops = [];
      const draw = async () => {
        let row;
        try {
          row = spec.one ? await spec.one(key, ctx) : (await spec.load(ctx)).find((r) => spec.key(r) === key);
          if (!row) throw new Error(`No ${spec.noun} ${key}.`);
        } catch (e) {
          fill(root, heading(`${spec.title}: ${key}`), h('p', { class: 'error', role: 'alert' }, apiMessage(e)),
            h('p', {}, h('a', { href: `#${spec.path}` }, `All ${spec.title.toLowerCase()}`)));
          return;
        }
        const saved = h('div', { role: 'status', class: 'ok save-status' });
        const f = spec.update || !w ? buildForm(spec.fields, {
          row, ctx, readOnly: !w || !spec.update,
          submitLabel: 'Save changes',
          onSubmit: async (body) => {
            const b = spec.toBody ? spec.toBody(body, { row, ctx }) : body;
            await spec.update(key, b, row, ctx);
            toast(`Saved ${spec.noun} ${key}.`);
            await draw();
            fill(root.querySelector('.save-status'), `Saved ${new Date().toLocaleTimeString()}.`);
          },
        }) : null;
        if (f && spec.formExtras) spec.formExtras(f, { row, ctx });
        const sections = spec.sections ? await spec.sections(row, { ctx, session, refresh: draw, writable: w, stops }) : null;
        fill(root,
          h('p', { class: 'crumbs' }, h('a', { href: `#${spec.path}` }, `← ${spec.title}`)),
          heading(`${spec.noun[0].toUpperCase()}${spec.noun.slice(1)} ${key}`,
            w && spec.remove ? deleteButton(`${spec.noun} ${key}`, async () => {
              await spec.remove(key, row);
              toast(`${past(spec.verb)} ${spec.noun} ${key}.`);
              go(spec.path);
            }, { typeToConfirm: spec.typeToConfirm ? key : null, verb: spec.verb }) : null),
          spec.summary ? spec.summary(row, { ctx }) : null,
          spec.sectionsFirst ? sections : null,
          f && (spec.fields.length ? h('section', { class: 'card' }, h('h2', {}, w ? 'Settings' : 'Settings (read only)'), f.form, saved) : null),
          spec.sectionsFirst ? null : sections);
      };
      await draw();
      return () => stops.forEach((s) => s());
    },
  };

  return spec.one === false ? [list] : [list, detail];
}
