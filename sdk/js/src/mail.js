// E-mail through the operator's relay, for reporter plugins only.
import { send as host } from 'switchyard:plugin/mail@0.2.2';

/** Send one plain-text message ({to: [addresses], subject, body}); throws with the host's reason. */
export function send(message) {
  try {
    host({ to: [message.to].flat(), subject: message.subject, body: message.body });
  } catch (e) {
    const p = e?.payload;
    throw new Error(p ? `mail not sent: ${p.tag}${p.val ? `: ${p.val}` : ''}` : String(e));
  }
}
