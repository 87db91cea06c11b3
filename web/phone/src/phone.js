// The Switchyard browser phone: one JsSIP user agent over SIP WebSocket
// (RFC 7118) and one call at a time, audio only. Bundled with JsSIP by
// esbuild at build time (host/api/build.rs); the host serves it at
// /phone/phone.js.
//
// Browser tests wait on `#reg-state` and `#call-state` (their
// `data-state`) and read `window.switchyardPhone.session.connection` (the
// RTCPeerConnection) for getStats().

import * as JsSIP from 'jssip';

// The demo tenant's SIP domain (examples/tenant-demo/tenant.json). Tenants
// are found by SIP domain, not by the web host's name.
const DEFAULT_DOMAIN = 'demo.localhost';

// No STUN/TURN by default: host candidates only. The mux and bundle
// policies are the standard ones (some JsSIP versions' examples still
// use 'negotiate', which browsers no longer accept).
const PC_CONFIG = {
  iceServers: [],
  iceTransportPolicy: 'all',
  bundlePolicy: 'balanced',
  rtcpMuxPolicy: 'require',
};

const MEDIA = { audio: true, video: false };

const $ = (id) => document.getElementById(id);

const phone = {
  JsSIP,
  ua: null,
  session: null,
  pcConfig: PC_CONFIG,
};
window.switchyardPhone = phone;

function log(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  const list = $('log');
  list.appendChild(li);
  while (list.children.length > 50) list.removeChild(list.firstChild);
  list.scrollTop = list.scrollHeight;
}

function setState(id, state, text) {
  const el = $(id);
  el.dataset.state = state;
  el.textContent = text || state;
}

function setReg(state, text) {
  setState('reg-state', state, text);
  refresh();
}

function setCall(state, text) {
  setState('call-state', state, text);
  refresh();
}

// Which buttons make sense now.
function refresh() {
  const reg = $('reg-state').dataset.state;
  const call = $('call-state').dataset.state;
  const s = phone.session;
  const live = Boolean(s) && !s.isEnded();
  const up = live && (call === 'confirmed' || call === 'held');
  const incoming = live && call === 'incoming';
  $('register').disabled = Boolean(phone.ua) && reg !== 'failed' && reg !== 'unregistered';
  $('unregister').disabled = !phone.ua;
  $('call').disabled = reg !== 'registered' || live;
  $('answer').disabled = !incoming;
  $('decline').disabled = !incoming;
  $('hangup').disabled = !live;
  $('hold').disabled = !up || call === 'held';
  $('resume').disabled = !up || call !== 'held';
  $('transfer').disabled = !up;
  for (const b of document.querySelectorAll('#keypad button')) b.disabled = !up;
}

function defaultWsUrl() {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}/ws`;
}

function peerName(session) {
  const id = session.remote_identity;
  if (!id) return '';
  const name = id.display_name ? `${id.display_name} ` : '';
  return `${name}<${id.uri.user || id.uri.toString()}>`;
}

// Remote audio: the session's RTCPeerConnection's tracks into <audio>.
function attachAudio(pc) {
  pc.addEventListener('track', (ev) => {
    const audio = $('remote-audio');
    audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
    audio.play().catch(() => {});
  });
}

function watchSession(session) {
  phone.session = session;
  $('call-peer').textContent = peerName(session);
  if (session.connection) attachAudio(session.connection);
  else session.on('peerconnection', (e) => attachAudio(e.peerconnection));

  session.on('progress', () => {
    if (session.direction === 'outgoing') setCall('progress', 'ringing');
  });
  session.on('accepted', () => setCall('confirmed', 'answered'));
  session.on('confirmed', () => setCall('confirmed', 'answered'));
  session.on('hold', (e) => {
    log(`call held (${e.originator})`);
    if (e.originator === 'local') setCall('held');
  });
  session.on('unhold', (e) => {
    log(`call resumed (${e.originator})`);
    if (e.originator === 'local') setCall('confirmed', 'answered');
  });
  const over = (state) => (e) => {
    log(`call ${state}: ${e.cause} (${e.originator})`);
    if (phone.session === session) {
      phone.session = null;
      $('remote-audio').srcObject = null;
      $('call-state').dataset.cause = e.cause || '';
      setCall(state, `${state}: ${e.cause}`);
    }
  };
  session.on('ended', over('ended'));
  session.on('failed', over('failed'));
}

function onNewSession({ originator, session }) {
  if (originator === 'remote') {
    if (phone.session && !phone.session.isEnded()) {
      log(`busy: declined a call from ${peerName(session)}`);
      session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
      return;
    }
    watchSession(session);
    log(`incoming call from ${peerName(session)}`);
    setCall('incoming', 'incoming call');
  } else {
    watchSession(session);
  }
}

function register() {
  const user = $('user').value.trim();
  const domain = $('domain').value.trim();
  const password = $('password').value;
  const wsUrl = $('ws-url').value.trim();
  if (phone.ua) phone.ua.stop();
  let ua;
  try {
    ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(wsUrl)],
      uri: `sip:${user}@${domain}`,
      password,
      register: true,
      user_agent: `Switchyard browser phone (JsSIP ${JsSIP.version})`,
    });
  } catch (err) {
    log(`cannot start: ${err.message}`);
    setReg('failed', `failed: ${err.message}`);
    return;
  }
  phone.ua = ua;
  const mine = (fn) => (e) => {
    if (phone.ua === ua) fn(e);
  };
  ua.on('connecting', mine(() => setReg('connecting')));
  ua.on('connected', mine(() => setReg('registering')));
  ua.on('disconnected', mine(() => {
    log('WebSocket disconnected');
    setReg('disconnected');
  }));
  ua.on('registered', mine(() => {
    log(`registered as ${user}@${domain}`);
    setReg('registered');
  }));
  ua.on('unregistered', mine(() => {
    log('unregistered');
    setReg('unregistered');
  }));
  ua.on('registrationFailed', mine((e) => {
    log(`registration failed: ${e.cause}`);
    $('reg-state').dataset.cause = e.cause || '';
    setReg('failed', `failed: ${e.cause}`);
  }));
  ua.on('newRTCSession', mine(onNewSession));
  ua.start();
  setReg('connecting');
}

function unregister() {
  const ua = phone.ua;
  if (!ua) return;
  phone.ua = null;
  if (phone.session && !phone.session.isEnded()) phone.session.terminate();
  ua.on('unregistered', () => log('unregistered'));
  ua.stop();
  setReg('unregistered');
}

function call(target) {
  if (!phone.ua || !target) return null;
  setCall('calling');
  try {
    return phone.ua.call(target, { mediaConstraints: MEDIA, pcConfig: PC_CONFIG });
  } catch (err) {
    log(`cannot call ${target}: ${err.message}`);
    setCall('failed', `failed: ${err.message}`);
    return null;
  }
}

function answer() {
  const s = phone.session;
  if (!s || s.direction !== 'incoming') return;
  s.answer({ mediaConstraints: MEDIA, pcConfig: PC_CONFIG });
}

function decline() {
  const s = phone.session;
  if (s && !s.isEnded()) s.terminate({ status_code: 603, reason_phrase: 'Decline' });
}

function hangup() {
  const s = phone.session;
  if (s && !s.isEnded()) s.terminate();
}

function transfer(target) {
  const s = phone.session;
  if (!s || !target) return;
  const el = $('call-state');
  let refer;
  try {
    refer = s.refer(target);
  } catch (err) {
    log(`cannot transfer to ${target}: ${err.message}`);
    return;
  }
  if (!refer) return;
  el.dataset.transfer = 'requested';
  log(`transferring to ${target}`);
  refer.on('requestSucceeded', () => { el.dataset.transfer = 'accepted'; });
  refer.on('requestFailed', (e) => {
    el.dataset.transfer = 'failed';
    log(`transfer refused: ${e.cause}`);
  });
  refer.on('accepted', () => {
    el.dataset.transfer = 'done';
    log(`transferred to ${target}`);
  });
  refer.on('failed', () => {
    el.dataset.transfer = 'failed';
    log(`transfer to ${target} failed`);
  });
}

function sendDigit(digit) {
  const s = phone.session;
  if (!s) return;
  try {
    s.sendDTMF(digit, { transportType: 'RFC2833', duration: 160, interToneGap: 70 });
    $('dtmf-sent').textContent += digit;
  } catch (err) {
    log(`cannot send ${digit}: ${err.message}`);
  }
}

phone.register = register;
phone.unregister = unregister;
phone.call = call;
phone.answer = answer;
phone.decline = decline;
phone.hangup = hangup;
phone.hold = () => phone.session && phone.session.hold();
phone.resume = () => phone.session && phone.session.unhold();
phone.transfer = transfer;
phone.sendDTMF = sendDigit;

function init() {
  const q = new URLSearchParams(window.location.search);
  $('user').value = q.get('user') || '';
  $('domain').value = q.get('domain') || DEFAULT_DOMAIN;
  $('ws-url').value = q.get('ws') || defaultWsUrl();
  if (q.get('debug')) JsSIP.debug.enable('JsSIP:*');
  else JsSIP.debug.disable();

  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    register();
  });
  $('unregister').addEventListener('click', unregister);
  $('dial').addEventListener('submit', (e) => {
    e.preventDefault();
    call($('dial-number').value.trim());
  });
  $('answer').addEventListener('click', answer);
  $('decline').addEventListener('click', decline);
  $('hangup').addEventListener('click', hangup);
  $('hold').addEventListener('click', phone.hold);
  $('resume').addEventListener('click', phone.resume);
  $('transfer-form').addEventListener('submit', (e) => {
    e.preventDefault();
    transfer($('transfer-target').value.trim());
  });
  for (const b of document.querySelectorAll('#keypad button')) {
    b.addEventListener('click', () => sendDigit(b.dataset.digit));
  }
  window.addEventListener('pagehide', () => {
    if (phone.ua) phone.ua.stop();
  });
  refresh();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
