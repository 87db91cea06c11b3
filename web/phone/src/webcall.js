// "Call us" for a tenant's web widget: one browser call, with no account,
// to the number the widget names. The widget's snippet (served at
// /widget/{tenant}/{name}/widget.js) asks the host for a ticket and loads
// this script; the ticket goes in the INVITE (X-Switchyard-Ticket) in
// place of credentials. Bundled with JsSIP at build time
// (web/phone/build.mjs), served at /widget/call.js.
//
// window.SwitchyardWebCall.start({ ws, domain, number, ticket, onState })
// returns { hangup(), sendDTMF(digit), session }; onState(state, detail)
// is told 'connecting', 'ringing', 'talking', 'ended' or 'failed'.

import * as JsSIP from 'jssip';

const PC_CONFIG = {
  iceServers: [],
  bundlePolicy: 'balanced',
  rtcpMuxPolicy: 'require',
};

function start({ ws, domain, number, ticket, onState }) {
  const tell = (state, detail) => onState && onState(state, detail || '');
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(ws)],
    uri: `sip:web@${domain}`,
    display_name: 'Web visitor',
    register: false,
    session_timers: false,
    user_agent: `Switchyard web call (JsSIP ${JsSIP.version})`,
  });
  JsSIP.debug.disable();
  const audio = document.createElement('audio');
  audio.autoplay = true;
  audio.className = 'sy-call-audio';
  document.body.appendChild(audio);
  const call = { session: null, ua };
  let finished = false;
  const finish = (state, detail) => {
    if (finished) return;
    finished = true;
    tell(state, detail);
    ua.stop();
  };
  ua.on('connected', () => {
    tell('connecting');
    const session = ua.call(`sip:${number}@${domain}`, {
      extraHeaders: [`X-Switchyard-Ticket: ${ticket}`],
      mediaConstraints: { audio: true, video: false },
      pcConfig: PC_CONFIG,
    });
    call.session = session;
    // The caller's connection exists as soon as call() returns (its
    // 'peerconnection' event has fired already).
    const attach = (pc) =>
      pc.addEventListener('track', (t) => {
        audio.srcObject = t.streams[0] || new MediaStream([t.track]);
        audio.play().catch(() => {});
      });
    if (session.connection) attach(session.connection);
    else session.on('peerconnection', (e) => attach(e.peerconnection));
    session.on('progress', () => tell('ringing'));
    session.on('confirmed', () => tell('talking'));
    session.on('ended', (e) => finish('ended', e.cause));
    session.on('failed', (e) => finish('failed', e.cause));
  });
  ua.on('disconnected', () => {
    if (!call.session) finish('failed', 'no connection');
  });
  ua.start();
  call.hangup = () => {
    if (call.session && !call.session.isEnded()) call.session.terminate();
    else finish('ended', 'hung up');
  };
  call.sendDTMF = (digit) => {
    if (call.session && call.session.isEstablished()) {
      call.session.sendDTMF(digit, { transportType: 'RFC2833' });
    }
  };
  window.SwitchyardWebCall.current = call;
  return call;
}

window.SwitchyardWebCall = { start, current: null };
