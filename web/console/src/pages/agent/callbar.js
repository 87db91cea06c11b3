// A bar at the bottom of every other page while the panel's phone has a
// call: an agent (or a supervisor with an extension) looking at another
// page still sees a call ring, can answer or hang up, and gets back to the
// panel in one click. The panel itself sets `phone.panelOpen` and hides it.

import { h, fill } from '../../ui.js';

export function attachCallBar(phone) {
  const bar = h('div', { class: 'agent-callbar', id: 'agent-callbar', role: 'region', 'aria-label': 'Call in progress', hidden: true });
  document.body.append(bar);
  let shownKey = '';
  const draw = () => {
    const m = phone.main;
    const live = phone.live(m) && !phone.panelOpen && phone.reg !== 'off';
    bar.hidden = !live;
    if (!live) { shownKey = ''; return; }
    // Redraw only when what is shown changes (keeps the keyboard focus).
    const key = `${m.key}/${m.state}/${m.held}`;
    if (key === shownKey) return;
    shownKey = key;
    const who = (m.pop && m.pop.contact && m.pop.contact.name) || (m.pop && m.pop.name) || m.name || m.number;
    const incoming = m.state === 'incoming';
    fill(bar,
      h('strong', {}, incoming ? 'Incoming call' : m.held ? 'On hold' : 'On a call'),
      h('span', {}, `${who}${m.pop && m.pop.queue ? ` · queue ${m.pop.queue}` : ''}`),
      incoming ? h('button', { type: 'button', class: 'primary', onclick: () => { location.hash = '/agent'; phone.answer(); } }, 'Answer') : null,
      incoming ? h('button', { type: 'button', class: 'danger', onclick: () => phone.decline() }, 'Decline')
        : h('button', { type: 'button', class: 'danger', onclick: () => phone.hangup() }, 'Hang up'),
      h('a', { href: '#/agent' }, 'Open the agent panel'));
  };
  const unsub = phone.subscribe(draw);
  draw();
  return () => { unsub(); bar.remove(); };
}
