// The console's browser phone: one JsSIP user agent registered as the
// signed-in extension over the host's SIP WebSocket (`ws(s)://HOST/ws`,
// RFC 7118), audio only, with at most two calls: the main one and a
// consultation call placed while the main one is held (consult transfer).
//
// It outlives a page: the agent panel and "My calls" share one phone, so
// going to the call history during a call does not drop it. It stops when
// the session that started it ends (sign-out, expiry) or the tab closes.
// Pages subscribe to its changes and redraw from its plain state.

import * as JsSIP from 'jssip';
import { screenPop } from './screenpop.js';
import { attachCallBar } from './callbar.js';
import { current } from '../../api.js';

// No STUN/TURN: the host is reached directly (as the standalone phone).
const PC_CONFIG = {
  iceServers: [],
  iceTransportPolicy: 'all',
  bundlePolicy: 'balanced',
  rtcpMuxPolicy: 'require',
};
const MEDIA = { audio: true, video: false };

let seq = 0;

function wsUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

/** A WebAudio ring while a call is offered (no sound file to load). */
class Ringer {
  start() {
    if (this.timer) return;
    try {
      this.ctx = this.ctx || new AudioContext();
    } catch {
      return;
    }
    const burst = () => {
      const ctx = this.ctx;
      const g = ctx.createGain();
      g.gain.value = 0.06;
      g.connect(ctx.destination);
      for (const f of [440, 480]) {
        const o = ctx.createOscillator();
        o.frequency.value = f;
        o.connect(g);
        o.start();
        o.stop(ctx.currentTime + 1.2);
      }
    };
    burst();
    this.timer = setInterval(burst, 3500);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * One call: the JsSIP session and what the panel shows of it. `state` is
 * `incoming` (ringing here), `calling` (we dial), `ringing` (the far end
 * rings), `confirmed`, `ended` or `failed`.
 */
function newCall(session, direction, request) {
  const id = session.remote_identity;
  const number = (id && id.uri && id.uri.user) || '';
  const name = (id && id.display_name) || '';
  return {
    key: ++seq,
    session,
    direction,
    state: direction === 'incoming' ? 'incoming' : 'calling',
    number,
    name,
    pop: direction === 'incoming' && request ? screenPop(request, name, number) : null,
    held: false,
    muted: false,
    createdMs: Date.now(),
    answeredMs: null,
    endedMs: null,
    cause: '',
    audio: null,
    dtmf: '',
  };
}

export class Softphone {
  constructor({ user, domain, name }) {
    this.user = user;
    this.domain = domain;
    this.displayName = name || '';
    this.reg = 'off';
    this.regCause = '';
    this.main = null;
    this.consult = null;
    /** The last queue call that ended: what the wrap-up form is for. */
    this.finished = null;
    this.autoAnswer = false;
    this.listeners = new Set();
    this.ringer = new Ringer();
    this.box = document.createElement('div');
    this.box.className = 'softphone-audio';
    document.body.append(this.box);
    this.panelOpen = false;
    this.detachBar = attachCallBar(this);
    this.onPageHide = () => this.stop();
    window.addEventListener('pagehide', this.onPageHide);
  }

  /** `fn()` after every change; returns the unsubscribe. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed() {
    const ringing = this.main && this.main.state === 'incoming';
    if (ringing) this.ringer.start();
    else this.ringer.stop();
    for (const fn of [...this.listeners]) {
      try { fn(this); } catch (e) { console.warn('softphone listener', e); }
    }
  }

  setReg(state, cause = '') {
    this.reg = state;
    this.regCause = cause;
    this.changed();
  }

  /** Register with `password` (the extension's SIP password). */
  start(password) {
    if (this.ua) this.ua.stop();
    // `localStorage.switchyardDebug = 1` logs JsSIP's SIP messages.
    if (localStorage.getItem('switchyardDebug')) JsSIP.debug.enable('JsSIP:*');
    else JsSIP.debug.disable();
    let ua;
    try {
      ua = new JsSIP.UA({
        sockets: [new JsSIP.WebSocketInterface(wsUrl())],
        uri: `sip:${this.user}@${this.domain}`,
        password,
        display_name: this.displayName || undefined,
        register: true,
        user_agent: `Switchyard console (JsSIP ${JsSIP.version})`,
      });
    } catch (e) {
      this.setReg('failed', e.message);
      return;
    }
    this.ua = ua;
    const mine = (fn) => (e) => { if (this.ua === ua) fn(e); };
    ua.on('connecting', mine(() => this.setReg('connecting')));
    ua.on('connected', mine(() => this.setReg('registering')));
    ua.on('disconnected', mine(() => this.setReg('disconnected', 'connection to the host lost')));
    ua.on('registered', mine(() => this.setReg('registered')));
    ua.on('unregistered', mine(() => this.setReg('unregistered')));
    ua.on('registrationFailed', mine((e) => this.setReg('failed', e.cause || 'refused')));
    ua.on('newRTCSession', mine((e) => this.onSession(e)));
    ua.start();
    this.setReg('connecting');
  }

  /** Unregister and drop every call (sign-out, tab closed). */
  stop() {
    const ua = this.ua;
    this.ua = null;
    for (const c of [this.main, this.consult]) {
      if (c && !c.session.isEnded()) {
        try { c.session.terminate(); } catch { /* gone already */ }
      }
    }
    if (ua) ua.stop();
    this.ringer.stop();
    this.detachBar();
    this.box.remove();
    window.removeEventListener('pagehide', this.onPageHide);
    this.reg = 'off';
    this.changed();
    this.listeners.clear();
  }

  live(c) {
    return Boolean(c) && c.state !== 'ended' && c.state !== 'failed';
  }

  onSession({ originator, session, request }) {
    if (originator === 'remote') {
      if (this.live(this.main)) {
        // One customer at a time; the queue does not offer to a busy agent.
        session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
        return;
      }
      const call = newCall(session, 'incoming', request);
      this.main = call;
      this.watch(call);
      this.changed();
      // Auto-answer is for queue calls (the panel's option), not every call.
      if (this.autoAnswer && call.pop && call.pop.queue) setTimeout(() => this.answer(), 600);
    }
    // Outgoing sessions are adopted by dial().
  }

  /** Remote audio of `call` into its own `<audio autoplay>`. */
  attachAudio(call, pc) {
    pc.addEventListener('track', (ev) => {
      if (!call.audio) {
        call.audio = document.createElement('audio');
        call.audio.autoplay = true;
        this.box.append(call.audio);
      }
      call.audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      call.audio.play().catch(() => {});
    });
  }

  watch(call) {
    const s = call.session;
    // JsSIP ends a session whose hold re-INVITE failed by terminate(),
    // which throws when the session ended meanwhile (a transfer done while
    // that re-INVITE was still unanswered): an ended session stays ended.
    const terminate = s.terminate.bind(s);
    s.terminate = (options) => {
      if (!s.isEnded()) terminate(options);
    };
    if (s.connection) this.attachAudio(call, s.connection);
    else s.on('peerconnection', (e) => this.attachAudio(call, e.peerconnection));
    s.on('progress', () => {
      if (call.direction === 'outgoing') { call.state = 'ringing'; this.changed(); }
    });
    const up = () => {
      if (call.state === 'confirmed') return;
      call.state = 'confirmed';
      call.answeredMs = Date.now();
      this.changed();
    };
    s.on('accepted', up);
    s.on('confirmed', up);
    s.on('hold', (e) => { if (e.originator === 'local') { call.held = true; this.changed(); } });
    s.on('unhold', (e) => { if (e.originator === 'local') { call.held = false; this.changed(); } });
    s.on('muted', () => { call.muted = true; this.changed(); });
    s.on('unmuted', () => { call.muted = false; this.changed(); });
    const over = (state) => (e) => {
      call.state = state;
      call.cause = e.cause || '';
      call.endedMs = Date.now();
      if (call.audio) { call.audio.srcObject = null; call.audio.remove(); call.audio = null; }
      if (call === this.consult) {
        this.consult = null;
        // The consulted party is gone: the customer is still on hold.
      } else if (call === this.main) {
        if (call.pop && call.pop.queue && call.answeredMs) this.finished = call;
        // The customer hung up during a consultation: the agent is left
        // talking to the consulted party, now the call on the panel.
        if (this.live(this.consult) && call.transfer !== 'done') {
          this.main = this.consult;
          this.consult = null;
        }
      }
      this.changed();
    };
    s.on('ended', over('ended'));
    s.on('failed', over('failed'));
  }

  /** Dial `target` (an extension, a queue's number, a phone number). */
  dial(target, { consult = false } = {}) {
    if (!this.ua || !target) return null;
    let session;
    try {
      session = this.ua.call(target, { mediaConstraints: MEDIA, pcConfig: PC_CONFIG });
    } catch (e) {
      throw new Error(`cannot call ${target}: ${e.message}`);
    }
    const call = newCall(session, 'outgoing');
    call.number = target;
    if (consult) this.consult = call;
    else this.main = call;
    this.watch(call);
    this.changed();
    return call;
  }

  answer() {
    const c = this.main;
    if (!c || c.state !== 'incoming') return;
    c.state = 'connecting';
    this.changed();
    c.session.answer({ mediaConstraints: MEDIA, pcConfig: PC_CONFIG });
  }

  decline() {
    const c = this.main;
    if (c && c.state === 'incoming') c.session.terminate({ status_code: 603, reason_phrase: 'Decline' });
  }

  hangup(call = this.main) {
    if (call && !call.session.isEnded()) call.session.terminate();
  }

  hold(call = this.main) {
    if (!call || call.state !== 'confirmed') return;
    const want = !call.held;
    // JsSIP refuses a re-INVITE while the previous one is unanswered (a
    // quick Hold then Resume): try again shortly instead of ignoring it.
    const attempt = (n) => {
      if (call.state !== 'confirmed' || call.held === want) return;
      const sent = want ? call.session.hold() : call.session.unhold();
      if (!sent && n > 0) setTimeout(() => attempt(n - 1), 250);
    };
    attempt(20);
  }

  mute(call = this.main) {
    if (!call || !this.live(call)) return;
    if (call.muted) call.session.unmute({ audio: true });
    else call.session.mute({ audio: true });
  }

  /** One DTMF digit on the call being talked on (RFC 4733 events). */
  dtmf(digit) {
    const call = this.live(this.consult) ? this.consult : this.main;
    if (!call || call.state !== 'confirmed') return;
    call.session.sendDTMF(digit, { transportType: 'RFC2833', duration: 160, interToneGap: 70 });
    call.dtmf = (call.dtmf + digit).slice(-24);
    this.changed();
  }

  /**
   * Blind transfer of the main call: a REFER to `target`; `onResult(ok,
   * text)` when the host answers it. Our leg ends once the transfer took.
   */
  transfer(target, onResult) {
    return this.refer(this.main, target, {}, onResult);
  }

  /** Consult transfer: hold the customer and call `target`. */
  startConsult(target) {
    const c = this.main;
    if (!c || c.state !== 'confirmed' || this.live(this.consult)) return null;
    if (!c.held) this.hold(c);
    return this.dial(target, { consult: true });
  }

  /** Consult transfer, last step: the customer is put through to the consulted party. */
  completeConsult(onResult) {
    const c = this.main;
    const k = this.consult;
    if (!c || !k || k.state !== 'confirmed') return;
    this.refer(c, k.number, { replaces: k.session }, onResult);
  }

  /** Consult transfer abandoned: hang up the consulted party, resume the customer. */
  backToCaller() {
    const k = this.consult;
    if (k && !k.session.isEnded()) k.session.terminate();
    this.consult = null;
    const c = this.main;
    if (c && c.state === 'confirmed' && c.held) this.hold(c);
    this.changed();
  }

  refer(call, target, options, onResult = () => {}) {
    if (!call || call.state !== 'confirmed' || !target) return;
    let r;
    try {
      r = call.session.refer(target, options);
    } catch (e) {
      onResult(false, e.message);
      return;
    }
    call.transfer = 'requested';
    this.changed();
    const done = (state, ok, text) => {
      call.transfer = state;
      onResult(ok, text);
      this.changed();
    };
    r.on('requestFailed', (e) => done('failed', false, `transfer refused: ${e.cause || 'error'}`));
    r.on('failed', (e) => done('failed', false, `transfer failed: ${(e && e.status_line && e.status_line.reason_phrase) || 'the target did not answer'}`));
    r.on('accepted', () => {
      // The host connected them: our legs are no longer needed (marked
      // done first, so the consulted party is not taken for the call).
      call.transfer = 'done';
      for (const c of [call, this.consult]) {
        if (c && !c.session.isEnded()) {
          try { c.session.terminate(); } catch { /* ended meanwhile */ }
        }
      }
      done('done', true, `transferred to ${target}`);
    });
  }
}

let shared = null;
let watching = false;

// Signing out from any page (the shell sets the address to `#` after
// forgetting the session) or the session ending stops the phone, even
// when no agent page is open to notice.
function watchSignOut() {
  if (watching) return;
  watching = true;
  const check = () => setTimeout(() => stopIfSignedOut(current()), 0);
  window.addEventListener('hashchange', check);
  window.addEventListener('session-ended', check);
}

/**
 * The phone of `session` (the one already running for the same sign-in,
 * or a new one; a phone of an earlier sign-in is stopped).
 */
export function phoneFor(session) {
  const key = `${session.tenant}/${session.extension}/${session.csrf}`;
  if (shared && shared.key === key) return shared;
  if (shared) shared.stop();
  watchSignOut();
  shared = new Softphone({ user: session.extension, domain: session.domain, name: session.name });
  shared.key = key;
  // Browser tests read the calls' RTCPeerConnections (getStats) here, as
  // the standalone phone's do with window.switchyardPhone.
  window.switchyardConsolePhone = shared;
  return shared;
}

/** Stop the phone when its sign-in is over (`current` is the session now). */
export function stopIfSignedOut(current) {
  if (!shared) return;
  const key = current && `${current.tenant}/${current.extension}/${current.csrf}`;
  if (key !== shared.key) {
    shared.stop();
    shared = null;
  }
}

export function runningPhone() {
  return shared;
}
