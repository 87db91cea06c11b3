"""hello-flow in Python: greet the caller (by name when the tenant's CRM
knows them), ring the configured agent for 20 s, then their voicemail.

| setting | default | meaning                      |
|---------|---------|------------------------------|
| `agent` | `1001`  | the extension that is rung   |

The agent rung is kept in the call's state, so the voicemail is the one of
the agent who was rung even if the setting changes mid-call; every call is
counted in kv (`calls`).
"""

from switchyard import config, contacts, flow, kv, log, state


class Flow(flow.CallFlow):
    def handle(self, call, event, raw_state):
        st = state.load(raw_state, {})
        if flow.is_event(event, "call-started"):
            agent = config.get_or("agent", "1001")
            calls = kv.increment("calls")
            name = contacts.name_of(call.caller.number)
            greeting = f"Hello {name}, connecting you now." if name else "Hello, connecting you now."
            log.info(f"call {calls}: ringing {agent}")
            return flow.decide(
                [
                    flow.answer(),
                    flow.play(flow.say(greeting)),
                    flow.set_tag(f"call-{calls}"),
                    flow.dial(flow.ext(agent), ring_timeout=20),
                ],
                state={"agent": agent},
            )
        if flow.is_event(event, "dial-finished"):
            if event.value.outcome.name == "ANSWERED":
                return flow.decide([], state=st)
            return flow.decide([flow.voicemail(st.get("agent", "1001"))], state=st)
        return flow.decide([], state=st)
