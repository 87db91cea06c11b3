// The agent panel (/agent): the agent's queue state (available, pause
// with a reason, log out; time in state; the wrap-up countdown), the
// browser phone built in (register, dial, answer, hold, mute, DTMF,
// blind and consult transfer), the screen pop of a ringing queue call
// (caller, CRM contact card, queue, wait, tags), and the wrap-up form
// (disposition code and notes saved on the call record).
//
// The phone is the shared one of ./softphone.js: leaving the page keeps
// calls up. State comes from GET /agents/{ext} every 2.5 s and after every
// event of the tenant's stream.

import './agent.css';
import { get, post, put, t, events, current } from '../../api.js';
import { h, fill, field, errorText, duration, toast } from '../../ui.js';
import { phoneFor, stopIfSignedOut } from './softphone.js';
import { contactFrom } from './screenpop.js';

const STATE_TEXT = {
  'logged-out': 'Logged out',
  available: 'Available',
  reserved: 'Reserved (a call rings)',
  'on-call': 'On a queue call',
  busy: 'Busy (other call)',
  'wrap-up': 'Wrap-up',
  paused: 'Paused',
};

// The tenant's pause reasons when the agent view does not list them (the
// host's defaults); `no-answer` is the engine's own auto-pause, not one an
// agent picks.
const DEFAULT_REASONS = ['break', 'lunch', 'training'];
const ENGINE_REASONS = new Set(['no-answer']);
export const DEFAULT_DISPOSITIONS = ['resolved', 'follow-up', 'sale', 'no-sale', 'wrong-number'];

const REG_TEXT = {
  off: 'Phone off',
  connecting: 'Connecting…',
  registering: 'Registering…',
  registered: 'Registered',
  unregistered: 'Not registered',
  disconnected: 'Disconnected',
  failed: 'Registration failed',
};

const CALL_TEXT = {
  idle: 'No call',
  incoming: 'Incoming call',
  connecting: 'Connecting…',
  calling: 'Calling…',
  ringing: 'Ringing…',
  confirmed: 'Connected',
  held: 'On hold',
  ended: 'Call ended',
  failed: 'Call failed',
};

const secs = (ms) => Math.max(0, Math.floor(ms / 1000));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function render(root, { session }) {
  const ext = session.extension;
  const phone = phoneFor(session);
  const stops = [];
  let agent = null; // the last agent view
  let seen = { key: '', since: Date.now() }; // when the page saw the state change
  let reasons = DEFAULT_REASONS;
  let dispositions = null;
  let lastOffer = null; // the latest `offered` event for this extension

  // ---- state card -------------------------------------------------------
  const stateBadge = h('span', { id: 'agent-state', class: 'state-badge', 'data-state': 'unknown', role: 'status' }, '…');
  const since = h('span', { id: 'agent-since', class: 'figure' }, '–');
  const wrapLeft = h('span', { id: 'agent-wrapup-left', class: 'wrap-left', hidden: true }, '');
  const stateError = h('p', { class: 'error', role: 'alert', hidden: true });
  const sinceLabel = h('span', { class: 'figure-label' }, 'for');
  const notAgentNote = h('p', { class: 'hint', hidden: true });
  const today = h('p', { class: 'hint', id: 'agent-today' }, '');
  const reasonSel = h('select', { id: 'agent-pause-reason' });
  const btnAvail = h('button', { type: 'button', id: 'agent-available', class: 'primary' }, 'Available');
  const btnPause = h('button', { type: 'button', id: 'agent-pause' }, 'Pause');
  const btnOut = h('button', { type: 'button', id: 'agent-logout', class: 'danger' }, 'Log out');

  const stateCard = h('section', { class: 'card agent-state', 'aria-labelledby': 'agent-state-h' },
    h('h2', { id: 'agent-state-h' }, 'My state'),
    h('div', { class: 'row' }, stateBadge, sinceLabel, since, wrapLeft),
    h('div', { class: 'row state-buttons' }, btnAvail,
      h('span', { class: 'pause-group' }, h('label', { for: 'agent-pause-reason', class: 'sr-label' }, 'Pause reason'),
        reasonSel, btnPause),
      btnOut),
    stateError, notAgentNote, today);

  function setReasons(list) {
    const pick = list.filter((r) => !ENGINE_REASONS.has(r));
    if (pick.join() === reasons.join() && reasonSel.options.length) return;
    reasons = pick.length ? pick : DEFAULT_REASONS;
    const keep = reasonSel.value;
    fill(reasonSel, reasons.map((r) => h('option', { value: r }, r)));
    if (reasons.includes(keep)) reasonSel.value = keep;
  }
  setReasons(session.pause_reasons && session.pause_reasons.length ? session.pause_reasons : DEFAULT_REASONS);

  function showAgent(a) {
    agent = a;
    if (Array.isArray(a.pause_reasons)) setReasons(a.pause_reasons);
    const key = `${a.state}/${a.reason || ''}`;
    if (key !== seen.key) seen = { key, since: Date.now() };
    if (a.call_id && (a.state === 'reserved' || a.state === 'on-call')) {
      const m = phone.main;
      if (m && m.pop && !m.pop.callId && phone.live(m)) m.pop.hostCallId = a.call_id;
    }
    stateBadge.dataset.state = a.state;
    stateBadge.textContent = (STATE_TEXT[a.state] || a.state) + (a.state === 'paused' && a.reason ? `: ${a.reason}` : '');
    stateBadge.dataset.reason = a.reason || '';
    const s = a.state;
    // Available means login or unpause: nothing to do in the other states
    // (the engine ends wrap-up by itself; unpause does not cut it short).
    btnAvail.disabled = !['logged-out', 'paused'].includes(s);
    btnAvail.textContent = s === 'logged-out' ? 'Log in (available)' : 'Available';
    btnPause.disabled = s === 'logged-out';
    btnOut.disabled = s === 'logged-out';
    btnAvail.setAttribute('aria-pressed', s === 'available' ? 'true' : 'false');
    btnPause.setAttribute('aria-pressed', s === 'paused' ? 'true' : 'false');
    fill(today, `Queues: ${(a.queues || []).join(', ') || '–'} · calls today ${a.calls_today ?? 0} · talk today ${duration(a.talk_secs_today || 0)}`);
    tick();
    drawWrap();
  }

  function tick() {
    if (!agent) return;
    const from = agent.since_ms || seen.since;
    since.textContent = duration(secs(Date.now() - from));
    const ends = agent.state === 'wrap-up' ? agent.wrap_up_ends_ms : null;
    wrapLeft.hidden = agent.state !== 'wrap-up';
    const left = ends ? `${duration(secs(ends - Date.now() + 999))} left` : 'after-call work';
    wrapLeft.textContent = `· wrap-up: ${left}`;
    wrapCountdown.textContent = agent.state === 'wrap-up' ? `Wrap-up time: ${left}` : '';
  }

  // No queue has this extension (a supervisor or admin with a phone):
  // no state to show or change, only the phone.
  function showNotAgent(message) {
    stateBadge.dataset.state = 'none';
    stateBadge.textContent = 'Not an agent';
    for (const el of [sinceLabel, since, wrapLeft, btnAvail.parentElement, today]) el.hidden = true;
    notAgentNote.hidden = false;
    notAgentNote.textContent = `${message}: no queue calls are offered to it. The phone below works for any call.`;
  }

  // The list rather than GET /agents/{ext}: an extension that is no
  // queue's member is simply absent (no 404 in the browser's console at
  // every poll); an agent's key lists only itself.
  async function refreshAgent() {
    try {
      const list = await get(t('/agents'));
      const a = (list || []).find((x) => x.extension === ext);
      if (!a) {
        showNotAgent(`Extension ${ext} is not a member of any queue`);
        return;
      }
      stateError.hidden = true;
      notAgentNote.hidden = true;
      for (const el of [sinceLabel, since, btnAvail.parentElement, today]) el.hidden = false;
      showAgent(a);
    } catch (e) {
      if (e.status === 404 || e.status === 403) showNotAgent(e.message);
      else if (e.status !== 401) {
        stateError.hidden = false;
        stateError.textContent = errorText(e);
      }
    }
  }

  async function change(body, button) {
    button.disabled = true;
    stateError.hidden = true;
    try {
      const a = await post(t(`/agents/${encodeURIComponent(ext)}/state`), body);
      showAgent(a);
    } catch (e) {
      stateError.hidden = false;
      stateError.textContent = errorText(e);
      button.disabled = false;
    }
  }

  btnAvail.addEventListener('click', () => change(
    { action: agent && agent.state === 'logged-out' ? 'login' : 'unpause' }, btnAvail));
  btnPause.addEventListener('click', () => change({ action: 'pause', reason: reasonSel.value || undefined }, btnPause));
  btnOut.addEventListener('click', () => change({ action: 'logout' }, btnOut));

  // ---- phone card -------------------------------------------------------
  const regBadge = h('span', { id: 'phone-reg', class: 'state-badge', 'data-state': 'off', role: 'status' }, 'Phone off');
  const regCause = h('span', { class: 'hint' });
  const pwInput = h('input', { id: 'phone-password', type: 'password', autocomplete: 'current-password', required: true });
  const enableForm = h('form', { class: 'enable-phone', hidden: true },
    h('p', { class: 'hint' }, `Signed in with a key: enter extension ${ext}'s SIP password to use the phone here (kept in this tab only).`),
    field('SIP password', pwInput),
    h('button', { type: 'submit', class: 'primary', id: 'phone-enable' }, 'Enable phone'));
  enableForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!pwInput.value) return;
    phone.start(pwInput.value);
    pwInput.value = '';
  });
  const btnReconnect = h('button', { type: 'button', id: 'phone-reconnect', hidden: true }, 'Reconnect');
  btnReconnect.addEventListener('click', () => {
    if (session.sipPassword) phone.start(session.sipPassword);
    else { enableForm.hidden = false; pwInput.focus(); }
  });
  const dialInput = h('input', { id: 'dial-target', type: 'text', inputmode: 'tel', autocomplete: 'off', placeholder: 'extension or number' });
  const btnCall = h('button', { type: 'submit', class: 'primary', id: 'dial-call' }, 'Call');
  const dialForm = h('form', { class: 'row dial-form' }, field('Call', dialInput), btnCall);
  dialForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const target = dialInput.value.trim();
    if (!target) return;
    try {
      phone.dial(target);
      dialInput.value = '';
    } catch (err) {
      toast(err.message, 'error');
    }
  });
  const autoAnswer = h('input', { type: 'checkbox', id: 'auto-answer' });
  autoAnswer.checked = phone.autoAnswer;
  autoAnswer.addEventListener('change', () => { phone.autoAnswer = autoAnswer.checked; });

  const phoneCard = h('section', { class: 'card', 'aria-labelledby': 'phone-h' },
    h('h2', { id: 'phone-h' }, 'Phone'),
    h('div', { class: 'row' }, regBadge, h('span', { class: 'hint' }, `${ext}@${session.domain}`), regCause, btnReconnect),
    enableForm, dialForm,
    h('div', { class: 'row check' }, autoAnswer, h('label', { for: 'auto-answer' }, 'Answer queue calls automatically')));

  // ---- call card --------------------------------------------------------
  const callState = h('span', { id: 'call-state', class: 'state-badge', 'data-state': 'idle', role: 'status', 'aria-live': 'polite' }, 'No call');
  const callPeer = h('span', { id: 'call-peer', class: 'call-peer' });
  const callTimer = h('span', { id: 'call-timer', class: 'num' });
  const pop = h('div', { id: 'screen-pop', class: 'screen-pop', hidden: true, 'aria-live': 'assertive' });
  const btnAnswer = h('button', { type: 'button', id: 'call-answer', class: 'primary answer' }, 'Answer');
  const btnDecline = h('button', { type: 'button', id: 'call-decline', class: 'danger' }, 'Decline');
  const btnHangup = h('button', { type: 'button', id: 'call-hangup', class: 'danger hangup' }, 'Hang up');
  const btnHold = h('button', { type: 'button', id: 'call-hold', 'aria-pressed': 'false' }, 'Hold');
  const btnMute = h('button', { type: 'button', id: 'call-mute', 'aria-pressed': 'false' }, 'Mute');
  btnAnswer.addEventListener('click', () => phone.answer());
  btnDecline.addEventListener('click', () => phone.decline());
  btnHangup.addEventListener('click', () => phone.hangup());
  btnHold.addEventListener('click', () => phone.hold());
  btnMute.addEventListener('click', () => phone.mute());

  const dtmfShown = h('output', { id: 'dtmf-sent', class: 'dtmf-sent', 'aria-label': 'Digits sent' });
  const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];
  const keypad = h('div', { class: 'dialpad', id: 'call-keypad', role: 'group', 'aria-label': 'Keypad (DTMF)' },
    keys.map((d) => h('button', { type: 'button', dataset: { digit: d }, onclick: () => phone.dtmf(d) }, d)));
  // With the focus on the keypad, typed digits are sent too (scoped to
  // the keypad, so no shortcut clashes with the browser's or a field's).
  keypad.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || !/^[0-9*#]$/.test(e.key)) return;
    e.preventDefault();
    phone.dtmf(e.key);
  });
  const keypadBox = h('div', { class: 'keypad-box' }, h('h3', {}, 'Keypad'), keypad,
    h('small', { class: 'hint' }, 'Focus a key, then type digits'), dtmfShown);

  const xferInput = h('input', { id: 'xfer-target', type: 'text', list: 'xfer-targets', autocomplete: 'off' });
  const xferList = h('datalist', { id: 'xfer-targets' });
  const btnBlind = h('button', { type: 'button', id: 'xfer-blind' }, 'Blind transfer');
  const btnConsult = h('button', { type: 'button', id: 'xfer-consult' }, 'Consult');
  const btnComplete = h('button', { type: 'button', id: 'xfer-complete', class: 'primary', hidden: true }, 'Complete transfer');
  const btnBack = h('button', { type: 'button', id: 'xfer-back', hidden: true }, 'Back to caller');
  const xferState = h('p', { id: 'xfer-state', class: 'hint', role: 'status' });
  const xferResult = (ok, text) => {
    xferState.textContent = text;
    xferState.className = ok ? 'ok' : 'error';
  };
  btnBlind.addEventListener('click', () => {
    const target = xferInput.value.trim();
    if (!target) { xferInput.focus(); return; }
    phone.transfer(target, xferResult);
  });
  btnConsult.addEventListener('click', () => {
    const target = xferInput.value.trim();
    if (!target) { xferInput.focus(); return; }
    try { phone.startConsult(target); } catch (e) { xferResult(false, e.message); }
  });
  btnComplete.addEventListener('click', () => phone.completeConsult(xferResult));
  btnBack.addEventListener('click', () => phone.backToCaller());
  const xferBox = h('div', { class: 'xfer-box' }, h('h3', {}, 'Transfer'),
    field('To', xferInput, 'an agent\'s extension, a queue\'s number (support: 600) or a phone number'),
    xferList,
    h('div', { class: 'row' }, btnBlind, btnConsult, btnComplete, btnBack), xferState);

  const inCall = h('div', { class: 'in-call', hidden: true }, keypadBox, xferBox);
  const idleHint = h('p', { class: 'hint' }, 'Queue calls ring here, with the caller\'s details before you answer.');
  const callCard = h('section', { class: 'card call-card', 'aria-labelledby': 'call-h' },
    h('h2', { id: 'call-h' }, 'Call'),
    h('div', { class: 'row call-head' }, callState, callPeer, callTimer),
    pop, idleHint,
    h('div', { class: 'row call-buttons' }, btnAnswer, btnDecline, btnHold, btnMute, btnHangup),
    inCall);

  // ---- wrap-up card -----------------------------------------------------
  const wrapCountdown = h('p', { id: 'wrapup-countdown', class: 'wrap-left', role: 'timer' });
  const codeSel = h('select', { id: 'wrapup-code', required: true });
  const notes = h('textarea', { id: 'wrapup-notes', rows: 3 });
  const btnSave = h('button', { type: 'submit', id: 'wrapup-save', class: 'primary' }, 'Save wrap-up');
  const btnDismiss = h('button', { type: 'button', id: 'wrapup-dismiss' }, 'Close');
  const wrapResult = h('p', { id: 'wrapup-result', role: 'status' });
  const wrapTitle = h('p', { class: 'hint' });
  const wrapForm = h('form', { id: 'wrapup-form' },
    wrapTitle, wrapCountdown,
    field('Disposition', codeSel), field('Notes', notes),
    h('div', { class: 'row' }, btnSave, btnDismiss), wrapResult);
  const wrapCard = h('section', { class: 'card wrap-card', 'aria-labelledby': 'wrap-h', hidden: true },
    h('h2', { id: 'wrap-h' }, 'Wrap-up'), wrapForm);
  let wrapFor = null; // the call the form is for

  async function loadDispositions() {
    try {
      const list = await get(t('/dispositions'));
      dispositions = Array.isArray(list) && list.length ? list.map(String) : DEFAULT_DISPOSITIONS;
    } catch {
      // 404 until the host has them (and any other refusal): the built-in codes.
      dispositions = DEFAULT_DISPOSITIONS;
    }
    fill(codeSel, h('option', { value: '' }, 'Choose…'), dispositions.map((d) => h('option', { value: d }, d)));
  }

  /**
   * The call record's id for `f`: the INVITE's X-Switchyard-Call-Id is it;
   * otherwise the host's call id (agent view, offer event) is looked up in
   * the agent's latest records, written as the call ends.
   */
  async function recordId(f) {
    if (f.pop.callId) return f.pop.callId;
    const host = f.pop.hostCallId;
    const mine = session.role === 'agent' ? '' : `&agent=${encodeURIComponent(ext)}`;
    for (let i = 0; i < 6; i++) {
      try {
        const p = await get(t(`/cdrs?limit=20${mine}`));
        const row = (p.rows || []).find((c) => c.call_id === host || c.id === host);
        if (row) return row.id;
      } catch { /* try again */ }
      await sleep(1000);
    }
    return host;
  }

  function callIdOf(call) {
    if (!call || !call.pop) return '';
    return call.pop.callId || call.pop.hostCallId || '';
  }

  function drawWrap() {
    const f = phone.finished;
    if (!f || f.wrapDismissed) { wrapCard.hidden = true; wrapFor = null; return; }
    wrapCard.hidden = false;
    if (wrapFor !== f) {
      wrapFor = f;
      notes.value = f.wrapNotes || '';
      codeSel.value = f.wrapCode || '';
      wrapResult.textContent = f.wrapSaved ? `Saved: ${f.wrapSaved}` : '';
      wrapResult.className = f.wrapSaved ? 'ok' : '';
      wrapResult.dataset.state = f.wrapSaved ? 'saved' : '';
    }
    const who = f.pop.contact?.name || f.pop.name || f.number;
    wrapTitle.textContent = `${who} · queue ${f.pop.queue} · talked ${duration(secs((f.endedMs || Date.now()) - (f.answeredMs || f.createdMs)))}`;
  }

  wrapForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = wrapFor;
    if (!f) return;
    const code = codeSel.value;
    if (!code) { codeSel.focus(); wrapResult.textContent = 'Choose a disposition.'; wrapResult.className = 'error'; return; }
    if (!callIdOf(f)) {
      wrapResult.textContent = 'The call\'s id is unknown (the host sent no X-Switchyard-Call-Id), so it cannot be saved.';
      wrapResult.className = 'error';
      wrapResult.dataset.state = 'error';
      return;
    }
    btnSave.disabled = true;
    wrapResult.textContent = 'Saving…';
    wrapResult.className = 'hint';
    f.wrapCode = code;
    f.wrapNotes = notes.value;
    try {
      f.recordId = f.recordId || await recordId(f);
      // The record is written as the call ends: right after hanging up it
      // may not exist yet, so its 404 is tried again (not a missing route).
      let saved;
      for (let i = 0; ; i++) {
        try {
          saved = await put(t(`/cdrs/${encodeURIComponent(f.recordId)}/wrap-up`), { code, notes: notes.value });
          break;
        } catch (err) {
          if (err.status !== 404 || /no such route/.test(err.message) || i >= 3) throw err;
          await sleep(1000);
        }
      }
      const w = (saved && saved.wrap_up) || saved || {};
      f.wrapSaved = `${w.code || code}${(w.notes ?? notes.value) ? ` — ${w.notes ?? notes.value}` : ''}`;
      wrapResult.textContent = `Saved: ${f.wrapSaved}`;
      wrapResult.className = 'ok';
      wrapResult.dataset.state = 'saved';
    } catch (err) {
      wrapResult.textContent = errorText(err);
      wrapResult.className = 'error';
      wrapResult.dataset.state = 'error';
    } finally {
      btnSave.disabled = false;
    }
  });
  btnDismiss.addEventListener('click', () => {
    if (phone.finished) phone.finished.wrapDismissed = true;
    drawWrap();
  });

  // ---- drawing the phone ------------------------------------------------
  let popFor = null;
  let grid = null;
  let shownKey = null;

  function badge(text, cls = '') {
    return h('span', { class: `badge ${cls}` }, text);
  }

  function drawPop(call) {
    const p = call.pop;
    if (!p) { pop.hidden = true; popFor = null; return; }
    popFor = call;
    pop.hidden = false;
    const c = p.contact;
    const waited = p.waitSecs === null ? null : p.waitSecs;
    const vip = [...p.tags, ...(c ? c.tags : [])].some((x) => x.toUpperCase() === 'VIP');
    const contactCard = c
      ? h('div', { class: 'contact-card', id: 'pop-contact' },
        h('div', { class: 'contact-name', id: 'pop-contact-name' }, c.name || c.id),
        c.company ? h('div', { class: 'contact-company' }, c.company) : null,
        c.email ? h('div', {}, h('a', { href: `mailto:${c.email}` }, c.email)) : null,
        c.owner ? h('div', { class: 'hint' }, `Owner: ${c.owner}`) : null,
        c.tags.length ? h('div', { class: 'row tags' }, c.tags.map((x) => badge(x, x.toUpperCase() === 'VIP' ? 'vip' : ''))) : null,
        c.fields.length ? h('dl', { class: 'contact-fields' }, c.fields.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])) : null,
        (c.url || p.crmUrl) ? h('a', { href: c.url || p.crmUrl, target: '_blank', rel: 'noopener noreferrer', class: 'crm-link', id: 'pop-crm-link' }, 'Open in CRM') : null)
      : h('div', { class: 'contact-card unknown', id: 'pop-contact' },
        h('div', { class: 'hint' }, p.queue ? 'No CRM contact for this number.' : 'Not a queue call.'),
        p.crmUrl ? h('a', { href: p.crmUrl, target: '_blank', rel: 'noopener noreferrer', class: 'crm-link', id: 'pop-crm-link' }, 'Open in CRM') : null);
    fill(pop,
      h('div', { class: 'pop-head' },
        h('div', { class: 'pop-name', id: 'pop-name' }, (c && c.name) || p.name || p.number || 'Unknown caller'),
        vip ? badge('VIP', 'vip') : null),
      h('dl', { class: 'pop-facts' },
        h('dt', {}, 'Number'), h('dd', { id: 'pop-number' }, p.number || '–'),
        p.name && p.name !== p.number ? [h('dt', {}, 'Caller ID'), h('dd', { id: 'pop-display' }, p.name)] : null,
        h('dt', {}, 'Queue'), h('dd', { id: 'pop-queue' }, p.queue || '–'),
        h('dt', {}, 'Waited'), h('dd', { id: 'pop-wait', dataset: { secs: waited ?? '' } }, waited === null ? '–' : duration(waited)),
        h('dt', {}, 'Tags'), h('dd', { id: 'pop-tags', class: 'row tags' }, p.tags.length ? p.tags.map((x) => badge(x, x.toUpperCase() === 'VIP' ? 'vip' : '')) : '–')),
      contactCard);
  }

  function drawCall() {
    const m = phone.main;
    const k = phone.consult;
    const live = phone.live(m);
    let state = m ? m.state : 'idle';
    if (live && m.held) state = 'held';
    callState.dataset.state = state;
    callState.dataset.cause = m && m.cause ? m.cause : '';
    callState.textContent = (CALL_TEXT[state] || state) + (m && m.cause && !live ? ` (${m.cause})` : '');
    callPeer.textContent = m ? [m.pop && m.pop.contact && m.pop.contact.name, m.pop ? m.pop.name : m.name, m.number]
      .filter((x, i, a) => x && a.indexOf(x) === i).join(' · ') : '';
    if (m && (m !== popFor)) drawPop(m);
    if (!m) { pop.hidden = true; popFor = null; }
    const incoming = live && m.state === 'incoming';
    const up = live && m.state === 'confirmed';
    // A new call starts with an empty transfer box.
    if (m && m.key !== shownKey) {
      shownKey = m.key;
      xferState.textContent = '';
      xferInput.value = '';
    }
    btnAnswer.hidden = !incoming;
    btnDecline.hidden = !incoming;
    btnHangup.disabled = !live;
    btnHangup.hidden = incoming || !live;
    idleHint.hidden = live;
    if (grid) grid.classList.toggle('has-call', live);
    btnHold.hidden = incoming || !live;
    btnMute.hidden = incoming || !live;
    btnHold.disabled = !up || phone.live(k);
    btnMute.disabled = !up;
    btnHold.textContent = up && m.held ? 'Resume' : 'Hold';
    btnHold.setAttribute('aria-pressed', up && m.held ? 'true' : 'false');
    btnMute.textContent = up && m.muted ? 'Unmute' : 'Mute';
    btnMute.setAttribute('aria-pressed', up && m.muted ? 'true' : 'false');
    inCall.hidden = !up;
    const consulting = phone.live(k);
    btnBlind.disabled = consulting;
    btnConsult.disabled = consulting;
    btnComplete.hidden = !consulting;
    btnComplete.disabled = !consulting || k.state !== 'confirmed';
    btnBack.hidden = !consulting;
    if (consulting) {
      xferState.className = 'hint';
      xferState.textContent = `Consulting ${k.number}: ${CALL_TEXT[k.state] || k.state} — the caller is on hold.`;
    }
    dtmfShown.textContent = (consulting ? k.dtmf : m && m.dtmf) || '';
    btnCall.disabled = phone.reg !== 'registered' || live;
    const callPanel = document.activeElement;
    // Bring a ringing call to the keyboard: Answer gets the focus, unless
    // the agent is typing somewhere.
    if (incoming && m.focusGiven !== true) {
      m.focusGiven = true;
      if (!callPanel || callPanel === document.body || callPanel === root || callPanel.tagName === 'BUTTON') btnAnswer.focus();
    }
    tickCall();
    drawWrap();
  }

  function tickCall() {
    const m = phone.main;
    // The caller's wait goes on while the agent's phone rings.
    if (m && m.state === 'incoming' && m.pop && m.pop.waitSecs !== null) {
      const el = document.getElementById('pop-wait');
      if (el) el.textContent = duration(m.pop.waitSecs + secs(Date.now() - m.pop.offeredMs));
    }
    if (m && phone.live(m)) {
      callTimer.textContent = m.answeredMs ? duration(secs(Date.now() - m.answeredMs)) : `ringing ${duration(secs(Date.now() - m.createdMs))}`;
    } else callTimer.textContent = '';
  }

  function drawReg() {
    regBadge.dataset.state = phone.reg;
    regBadge.textContent = REG_TEXT[phone.reg] || phone.reg;
    const wrongPassword = phone.reg === 'failed' && /Rejected|Authentication/i.test(phone.regCause);
    regCause.textContent = phone.regCause
      ? `(${phone.regCause}${wrongPassword ? ': check the SIP password' : ''})` : '';
    btnReconnect.hidden = !['failed', 'disconnected', 'unregistered'].includes(phone.reg);
    enableForm.hidden = phone.reg !== 'off' || Boolean(session.sipPassword);
    if (phone.reg === 'failed' && !session.sipPassword) enableForm.hidden = false;
  }

  function draw() {
    drawReg();
    // An offer seen on the event stream fills what the INVITE lacked.
    const m = phone.main;
    if (m && m.pop && lastOffer && phone.live(m) && Date.now() - lastOffer.atMs < 60000) {
      if (!m.pop.callId && !m.pop.hostCallId) m.pop.hostCallId = lastOffer.callId;
      if (!m.pop.contact && lastOffer.contact) { m.pop.contact = lastOffer.contact; popFor = null; }
    }
    drawCall();
  }

  let pending = null;
  const soon = () => {
    clearTimeout(pending);
    pending = setTimeout(refreshAgent, 150);
  };
  stops.push(phone.subscribe(draw));
  // A call that rings, is answered or ends changes the agent's state:
  // ask for it then rather than at the next poll.
  let callKey = '';
  stops.push(phone.subscribe(() => {
    const k = phone.main ? `${phone.main.key}/${phone.main.state}` : '';
    if (k !== callKey) { callKey = k; soon(); }
  }));
  // The panel shows the call: no call bar while it is open.
  phone.panelOpen = true;
  phone.changed();
  stops.push(() => { phone.panelOpen = false; phone.changed(); });

  // ---- layout -----------------------------------------------------------
  fill(root,
    h('h1', {}, 'Agent'),
    h('div', { class: 'agent-grid' },
      h('div', { class: 'agent-col' }, stateCard, phoneCard),
      h('div', { class: 'agent-col wide' }, callCard, wrapCard)));
  grid = root.querySelector('.agent-grid');

  // ---- start ------------------------------------------------------------
  if (phone.reg === 'off' && session.sipPassword) phone.start(session.sipPassword);
  draw();
  loadDispositions();
  refreshAgent();

  // Transfer targets: the tenant's directory (every role may read it):
  // colleagues by extension, queues by their transfer number.
  (async () => {
    try {
      const d = await get(t('/directory'));
      const opts = [
        ...d.extensions.filter((e) => e.number !== ext)
          .map((e) => [e.number, e.name ? `${e.name} (${e.number})` : e.number]),
        ...d.queues.map((q) => [q.number, `queue ${q.name} (${q.number})`]),
      ];
      fill(xferList, opts.map(([v, l]) => h('option', { value: v, label: l })));
    } catch { /* free text */ }
  })();

  const onEvent = (kind, data) => {
    if (kind === 'offered' && data && data.detail) {
      try {
        const d = JSON.parse(data.detail);
        if (d.agent === ext) {
          lastOffer = { callId: data.call_id, atMs: Date.now(), contact: contactFrom(d.contact) };
          draw();
        }
      } catch { /* not JSON */ }
    }
    soon();
  };
  stops.push(events(onEvent));
  const poll = setInterval(refreshAgent, 2500);
  const ticker = setInterval(() => { tick(); tickCall(); }, 1000);
  stops.push(() => { clearInterval(poll); clearInterval(ticker); clearTimeout(pending); });

  return () => {
    for (const s of stops) s();
    // Signed out (or another sign-in): the phone goes too; otherwise it
    // keeps the calls up while the agent looks at another page.
    stopIfSignedOut(current());
  };
}

export default {
  path: '/agent',
  title: 'Agent',
  nav: 'Work',
  roles: ['agent', 'supervisor', 'admin'],
  when: (s) => !!s.extension,
  render,
};
