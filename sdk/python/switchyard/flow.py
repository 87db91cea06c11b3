"""The ``call-flow`` world: events in, actions out.

In your ``app.py`` (componentize-py looks for the class called ``Flow``)::

    from switchyard import flow, config, state

    class Flow(flow.CallFlow):
        def handle(self, call, event, raw_state):
            if flow.is_event(event, "call-started"):
                agent = config.get_or("agent", "1001")
                return flow.decide([
                    flow.answer(),
                    flow.play(flow.say("Hello " + call.caller.number)),
                    flow.dial(flow.ext(agent), ring_timeout=20),
                ])
            if flow.is_event(event, "dial-finished"):
                return flow.decide([flow.voicemail(call.callee.number)])
            return flow.decide([])

A fresh instance serves every event: keep what the call must remember in
the state (``flow.decide(actions, state=...)``, read back with
:func:`switchyard.state.load`) and longer-lived data in
:mod:`switchyard.kv`.
"""

from typing import Any, Iterable, Optional, Union

from ._wit import Exported, imports
from . import state as _state

__all__ = [
    "CallFlow", "decide", "event_name", "is_event", "queue_gave_up",
    "file", "say", "tone", "silence", "ext", "ring_group", "number", "sip_uri",
    "answer", "play", "gather", "dial", "enqueue", "voicemail", "record_audio",
    "conference", "transfer", "set_tag", "pause", "reject", "hangup", "goto_flow",
]


def _t():
    return imports("flow_types")


class CallFlow(Exported):
    """Base of a ``call-flow`` export: implement
    ``handle(self, call, event, state) -> Decision`` (return
    :func:`decide`)."""

    _results = ("handle",)

    def handle(self, call, event, state: Optional[bytes]):
        raise NotImplementedError


def decide(actions: Iterable[Any], state: Any = None):
    """The decision: the actions to run next and the state to get back
    with the next event (any JSON value, saved with
    :func:`switchyard.state.save`; ``bytes`` are kept as they are)."""
    if state is not None and not isinstance(state, (bytes, bytearray)):
        state = _state.save(state)
    return _t().Decision(actions=list(actions), state=bytes(state) if state is not None else None)


def event_name(event) -> str:
    """The WIT name of an event: ``call-started``, ``digits``,
    ``dial-finished``, ``queue-finished``, ``hangup``…"""
    name = type(event).__name__.split("_", 1)[-1]
    out = ""
    for ch in name:
        out += ("-" + ch.lower()) if ch.isupper() and out else ch.lower()
    return out


def is_event(event, name: str) -> bool:
    """Whether ``event`` is the event called ``name`` (its WIT name)."""
    return event_name(event) == name


def queue_gave_up(reason) -> bool:
    """Whether a ``queue-finished`` reason means the caller is still on the
    line and the flow should route them elsewhere."""
    return reason.name in ("TIMEOUT", "FULL", "NO_AGENTS", "EMPTY", "KEY")


# Prompts.
def file(name: str):
    """A prompt file the tenant uploaded."""
    return _t().Prompt_File(name)


def say(text: str):
    """Text to speak (where the host has text-to-speech)."""
    return _t().Prompt_Say(text)


def tone(name: str):
    """A built-in tone: ``ringback``, ``busy``, ``beep``, ``congestion``."""
    return _t().Prompt_Tone(_t().Tone[name.upper()])


def silence(ms: int):
    """Silence, in milliseconds."""
    return _t().Prompt_Silence(int(ms))


def _prompts(prompts) -> list:
    if isinstance(prompts, str):
        return [say(prompts)]
    if not isinstance(prompts, (list, tuple)):
        return [prompts]
    return [say(p) if isinstance(p, str) else p for p in prompts]


# Dial targets.
def ext(number: str):
    """A tenant extension."""
    return _t().DialTarget_Extension(number)


def ring_group(name: str):
    """A ring group by name."""
    return _t().DialTarget_RingGroup(name)


def number(number: str):
    """A phone number, out through the tenant's trunk."""
    return _t().DialTarget_Number(number)


def sip_uri(uri: str):
    """Any SIP URI."""
    return _t().DialTarget_SipUri(uri)


# Actions.
def answer():
    return _t().Action_Answer()


def play(prompts):
    """Play prompts (a prompt, a list, or text to say)."""
    return _t().Action_Play(_prompts(prompts))


def gather(prompts=(), max_digits: int = 1, finish_on_key: Optional[str] = "#",
           first_digit_timeout_ms: int = 5_000, inter_digit_timeout_ms: int = 3_000):
    """Collect DTMF digits while playing prompts."""
    t = _t()
    return t.Action_Gather(t.Gather(
        prompts=_prompts(prompts), max_digits=int(max_digits), finish_on_key=finish_on_key,
        first_digit_timeout_ms=int(first_digit_timeout_ms),
        inter_digit_timeout_ms=int(inter_digit_timeout_ms)))


def dial(targets, ring_timeout: int = 30, sequential: bool = False,
         caller_id: Optional[str] = None):
    """Ring one target or several (all at once unless ``sequential``)."""
    t = _t()
    if not isinstance(targets, (list, tuple)):
        targets = [targets]
    mode = t.DialMode.SEQUENTIAL if sequential else t.DialMode.SIMULTANEOUS
    return t.Action_Dial(t.Dial(targets=list(targets), mode=mode,
                                ring_timeout_secs=int(ring_timeout), caller_id=caller_id))


def enqueue(queue: str, priority: int = 0, skills: Iterable[str] = (),
            timeout: Optional[int] = None):
    """Put the caller in a queue."""
    t = _t()
    return t.Action_Enqueue(t.Enqueue(queue=queue, priority=int(priority),
                                      skills=list(skills), timeout_secs=timeout))


def voicemail(mailbox: str, greeting=None):
    """Send the caller to a voicemail box."""
    t = _t()
    return t.Action_Voicemail(t.Voicemail(mailbox=mailbox, greeting=greeting))


def record_audio(max_seconds: int, finish_on_key: Optional[str] = "#", beep: bool = True):
    """Record the caller."""
    t = _t()
    return t.Action_RecordAudio(t.RecordAudio(max_seconds=int(max_seconds),
                                              finish_on_key=finish_on_key, beep=beep))


def conference(room: str, moderator: bool = False, muted: bool = False):
    t = _t()
    return t.Action_Conference(t.Conference(room=room, moderator=moderator, muted=muted))


def transfer(target):
    """Blind-transfer the call to a dial target."""
    t = _t()
    return t.Action_Transfer(t.Transfer(target=target))


def set_tag(tag: str):
    """Label the call (shown to agents)."""
    return _t().Action_SetTag(tag)


def pause(ms: int):
    return _t().Action_Pause(int(ms))


def reject(reason: str = "decline"):
    """Refuse the call: ``busy``, ``decline`` or ``unavailable``."""
    t = _t()
    return t.Action_Reject(t.RejectReason[reason.upper()])


def hangup():
    return _t().Action_Hangup()


def goto_flow(name: str):
    """Hand the call to another flow."""
    return _t().Action_GotoFlow(name)
