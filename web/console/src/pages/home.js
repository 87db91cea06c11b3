// The landing page for a role without a better one.

import { h, fill } from '../ui.js';

export default {
  path: '/',
  title: 'Home',
  roles: ['operator', 'admin', 'supervisor', 'agent'],
  render(root, { session }) {
    fill(root, h('h1', {}, 'Switchyard'),
      h('p', {}, `Signed in as ${session.role}${session.tenant ? ` of ${session.tenant}` : ''}.`));
  },
};
