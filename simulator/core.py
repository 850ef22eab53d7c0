"""The Simulator: holds every call, conference, message, persona and number, and their operations."""

import json
import random
import secrets
import threading
import time

from simulator.cps import QUEUED_MODES, OutboundQueue
from simulator.delivery import send_callback
from simulator import messages
from simulator.faults import Faults
from simulator.model import Call, Conference, FINAL_STATUSES, API_VERSION, queue_ms, rfc2822
from simulator.parties import Persona, NumberConfig, normalize_address, load_file
from simulator.scheduler import Scheduler
from simulator.settings import SimSettings
from simulator.webhooks import WebhookClient, OrderedSender

STATUS_EVENT = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}


class SimError(Exception):
    """An error the REST or control API reports in Twilio's JSON shape."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    @classmethod
    def not_found(cls, path):
        """Twilio's 20404 for a REST resource path (/2010-04-01/Accounts/AC.../Calls/CA....json)."""
        return cls(20404, f"The requested resource {path} was not found", 404)

    def to_json(self):
        """Twilio's error body: code, message, more_info, status."""
        return {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}", "status": self.status}


class Simulator:
    """Everything one simulated Twilio account holds; the Flask apps get it through their factory."""

    def __init__(self, *, account_sid, auth_token, settings=None, personas=(), numbers=(), spec=None):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.settings = settings or SimSettings()
        self.spec = spec
        self.lock = threading.RLock()  # guards the dicts below; never held across HTTP I/O
        self.calls = {}
        self.conferences = {}
        self.messages = {}
        self.personas = {}          # address -> global persona
        self.scoped_personas = {}   # address -> scoped personas, oldest first
        self.numbers = {}
        self.error_log = []
        self.request_log = []
        self.webhooks = WebhookClient(auth_token, lambda: self.settings.webhook_timeout)
        self.sender = OrderedSender()
        self.scheduler = Scheduler()
        self.outbound = OutboundQueue(self.settings)
        self.faults = Faults()
        self.random = random.Random()
        for p in personas:
            self.add_persona(p)
        for n in numbers:
            self.set_number(n)

    # ----- personas and numbers -------------------------------------------------------------
    def add_persona(self, data):
        """Add or replace a persona (dict in the personas-file shape, or a Persona).

        A scoped persona replaces only the one with the same address and the same scope."""
        persona = data if isinstance(data, Persona) else Persona.from_dict(data)
        key = normalize_address(persona.address)
        with self.lock:
            if persona.scope:
                kept = [p for p in self.scoped_personas.get(key, ()) if p.scope != persona.scope]
                self.scoped_personas[key] = kept + [persona]
            else:
                self.personas[key] = persona
        return persona

    def remove_personas(self, scope):
        """Forget every scoped persona whose scope names one of these numbers; returns how many."""
        wanted = {normalize_address(s) for s in scope}
        removed = 0
        with self.lock:
            for key in list(self.scoped_personas):
                kept = [p for p in self.scoped_personas[key] if not wanted.intersection(p.scope)]
                removed += len(self.scoped_personas[key]) - len(kept)
                if kept:
                    self.scoped_personas[key] = kept
                else:
                    del self.scoped_personas[key]
        return removed

    def list_personas(self, scope=None):
        """Global personas, then scoped ones (only those naming one of `scope`'s numbers when given)."""
        wanted = {normalize_address(s) for s in scope} if scope else None
        with self.lock:
            scoped = [p for group in self.scoped_personas.values() for p in group]
            if wanted is not None:
                return [p for p in scoped if wanted.intersection(p.scope)]
            return list(self.personas.values()) + scoped

    def context_of(self, from_=None, parent_sid=None):
        """The numbers a call's personas are scoped by: its From, and its parent call's From and To."""
        keys = [from_]
        with self.lock:
            parent = self.calls.get(parent_sid) if parent_sid else None
        if parent is not None:
            keys += [parent.from_, parent.to]
        return tuple(dict.fromkeys(normalize_address(k) for k in keys if k))

    def persona_for(self, address, context=()):
        """The persona reachable at an address, or None (an unassigned number).

        `context` (from context_of) picks a scoped persona naming one of its numbers, the newest
        first; otherwise the global persona answers."""
        key = normalize_address(address)
        with self.lock:
            for persona in reversed(self.scoped_personas.get(key, ())):
                if any(number in persona.scope for number in context):
                    return persona
            return self.personas.get(key)

    def set_number(self, data):
        """Configure a number's voice URL, fallback URL and status callback."""
        config = data if isinstance(data, NumberConfig) else NumberConfig.from_dict(data)
        with self.lock:
            self.numbers[config.number] = config
        return config

    def load_personas(self, path):
        """Load personas and numbers from a YAML or JSON file."""
        personas, numbers = load_file(path)
        for p in personas:
            self.add_persona(p)
        for n in numbers:
            self.set_number(n)

    # ----- records ---------------------------------------------------------------------------
    def event(self, call, event_type, /, **data):
        """Append an event to a call's timeline."""
        entry = {"type": event_type, "time": time.time(), **data}
        with call.cv:
            call.timeline.append(entry)
        return entry

    def hear(self, call, kind, *, seconds=0.0, **data):
        """Record what the party on a call heard; returns the entry so its seconds can grow."""
        party = call.persona.address if call.persona else (call.from_ if call.direction == "inbound" else call.to)
        entry = {"party": party, "kind": kind, "seconds": round(seconds, 3), **data}
        with call.cv:
            call.heard.append(entry)
        self.event(call, "heard", **entry)
        return entry

    def record_error(self, call, code, message, url=None):
        """Record an error as Twilio's debugger would."""
        entry = {"call_sid": call.sid if call else None, "code": code, "message": message, "url": url,
                 "time": time.time()}
        with self.lock:
            self.error_log.append(entry)
        if call is not None:
            self.event(call, "error", code=code, message=message, url=url)
        return entry

    def log_request(self, method, path, params):
        """Remember a REST request the service sent; returns the entry."""
        entry = {"method": method, "path": path, "params": params, "time": time.time()}
        with self.lock:
            self.request_log.append(entry)
        return entry

    # ----- calls ------------------------------------------------------------------------------
    def new_call(self, **kwargs):
        """Create and register a call."""
        call = Call(account_sid=self.account_sid, **kwargs)
        with self.lock:
            self.calls[call.sid] = call
        return call

    def get_call(self, sid):
        """A call by SID, or SimError 20404."""
        with self.lock:
            call = self.calls.get(sid)
        if call is None:
            raise SimError.not_found(f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}.json")
        return call

    def call_params(self, call):
        """The parameters Twilio sends on every voice webhook for a call."""
        params = {
            "AccountSid": call.account_sid, "ApiVersion": API_VERSION, "CallSid": call.sid,
            "CallStatus": call.status, "Called": call.to, "Caller": call.from_, "Direction": call.direction,
            "From": call.from_, "To": call.to,
        }
        if call.parent_call_sid:
            params["ParentCallSid"] = call.parent_call_sid
        if call.forwarded_from:
            params["ForwardedFrom"] = call.forwarded_from
        if call.call_token:
            params["CallToken"] = call.call_token
        if call.answered_by:
            params["AnsweredBy"] = call.answered_by
            if call.amd_duration_ms is not None:
                params["MachineDetectionDuration"] = str(call.amd_duration_ms)
        return params

    def transition(self, call, status):
        """Move a call to a new status, fire the status callbacks asked for, wake whoever waits on it."""
        with call.cv:
            if call.ended or call.status == status:
                return
            call.status = status
            now = time.time()
            call.date_updated = now
            if status == "in-progress":
                call.answer_time = call.start_time = now
            if status in ("ringing", "initiated") and call.start_time is None:
                call.start_time = now
            if status in FINAL_STATUSES:
                call.end_time = now
                call.activity = "ended"
                call.bridged_with = None
            call.cv.notify_all()
        self.event(call, "status", status=status)
        if status == "in-progress" and call.persona and call.persona.hangup_after is not None:
            self.scheduler.after(call.persona.hangup_after, lambda: self.hangup(call.sid, by="party"))
        self._status_callback(call, status)
        for other_sid in (call.parent_call_sid, call.bridged_with):
            other = self.calls.get(other_sid) if other_sid else None
            if other is not None:
                other.poke()

    def _status_callback(self, call, status):
        if not call.status_callback:
            return
        event = "completed" if status in FINAL_STATUSES else STATUS_EVENT.get(status)
        if event is None or event not in call.status_callback_events:
            return
        with call.cv:
            call.sequence += 1
            seq = call.sequence
        params = self.call_params(call)
        params.update({
            "CallStatus": status, "SequenceNumber": str(seq - 1), "Timestamp": rfc2822(time.time()),
            "CallbackSource": "call-progress-events",
        })
        if event == "completed":
            params["CallDuration"] = str(call.duration())
            params["Duration"] = str((call.duration() + 59) // 60)  # billed minutes
        send_callback(self, call.sid, call.status_callback, params, method=call.status_callback_method,
                      calls=[call], owner=call)

    def hangup(self, sid, *, by="party", status="completed"):
        """End a call: the party hangs up, or the API completes/cancels it."""
        call = self.get_call(sid)
        with call.cv:
            if call.ended or call.hangup_reason:
                return call
            if call.answer_time is None and status == "completed" and by != "party":
                status = "canceled"  # the API ending a call that never answered cancels it
            call.hangup_reason = by
            call.final_status = status
            call.cv.notify_all()
        self.event(call, "hangup", by=by, status=status)
        runner = getattr(call, "runner", None)
        if runner is None or not runner.is_alive():
            self.transition(call, status)
        return call

    def press(self, sid, digits):
        """The party on a call presses keys; they reach a waiting <Gather> (or hangupOnStar)."""
        call = self.get_call(sid)
        with call.cv:
            accepted = call.accepting_digits and not call.ended
            if accepted:
                call.digits += digits
                call.cv.notify_all()
        self.event(call, "digits", digits=digits, accepted=accepted)
        return accepted

    def end_agent_session(self, sid, handoff_data=None):
        """End the ConversationRelay/Stream session of a call inside <Connect>."""
        call = self.get_call(sid)
        if handoff_data is not None and not isinstance(handoff_data, str):
            handoff_data = json.dumps(handoff_data)
        with call.cv:
            if not call.agent["connected"]:
                raise SimError(21220, f"Call {sid} is not connected to an agent", 409)
            call.agent_end = handoff_data if handoff_data is not None else ""
            call.cv.notify_all()
        return call

    def redirect(self, call, source):
        """Make a live call leave its current verb and run new TwiML (source: ('twiml', xml) or ('url', url, method))."""
        with call.cv:
            if call.ended or call.hangup_reason:
                raise SimError(21220, "Call is not in-progress. Cannot redirect.", 400)
            call.redirect = source
            call.cv.notify_all()
        self.event(call, "redirect", source=list(source))

    def start(self, call, mode, **options):
        """Start the runner thread of a call."""
        from simulator.engine import CallRunner

        if mode in QUEUED_MODES and self.outbound.join(call) > 0:
            self.event(call, "queued", queue_time=queue_ms(call.queue_time))
        runner = CallRunner(self, call, mode, **options)
        call.runner = runner
        runner.start()
        return runner

    def place_call(self, from_, to, *, sip=False, forwarded_from=None):
        """An inbound call from a persona (or any caller) to a configured number or SIP address."""
        with self.lock:
            config = self.numbers.get(to)
        if config is None or not config.voice_url:
            raise SimError(21211, f"No voice URL configured for {to}; add it with set_number", 404)
        call = self.new_call(from_=from_, to=to, direction="inbound", sip=sip)
        call.context = self.context_of(from_)
        call.persona = self.persona_for(from_, call.context)
        call.forwarded_from = forwarded_from
        call.call_token = "CT" + secrets.token_hex(32)
        call.url, call.method = config.voice_url, config.voice_method
        call.fallback_url, call.fallback_method = config.voice_fallback_url, config.voice_fallback_method
        call.status_callback, call.status_callback_method = config.status_callback, config.status_callback_method
        call.status_callback_events = ("completed",)  # a number's status callback only reports the end
        self.event(call, "placed", from_=from_, to=to, sip=sip)
        self.start(call, "inbound")
        return call

    # ----- conferences -----------------------------------------------------------------------
    def find_conference(self, sid_or_name, *, create=False):
        """A conference by SID, or the live one with that friendly name (created when asked)."""
        with self.lock:
            if sid_or_name in self.conferences:
                return self.conferences[sid_or_name]
            for conf in reversed(list(self.conferences.values())):
                if conf.friendly_name == sid_or_name and conf.status != "completed":
                    return conf
            if sid_or_name.startswith("CF") and len(sid_or_name) == 34 and not create:
                raise SimError.not_found(f"/{API_VERSION}/Accounts/{self.account_sid}/Conferences/{sid_or_name}.json")
            if not create:
                raise SimError(20404, f"Conference {sid_or_name} was not found", 404)
            conf = Conference(account_sid=self.account_sid, friendly_name=sid_or_name)
            self.conferences[conf.sid] = conf
            return conf

    def find_participant(self, conf, key):
        """A participant by call SID or label, or SimError 20404."""
        with self.lock:
            p = conf.participants.get(key)
            if p is None:
                p = next((x for x in conf.participants.values() if x.label == key), None)
        if p is None:
            raise SimError.not_found(f"{conf.uri()[:-5]}/Participants/{key}.json")
        return p

    # ----- messages ---------------------------------------------------------------------------
    def add_message(self, message, persona=None):
        """Register an accepted message and deliver it as its recipient's persona says (simulator/messages.py)."""
        with self.lock:
            self.messages[message.sid] = message
        messages.deliver(self, message, persona)
        return message

    # ----- control -----------------------------------------------------------------------------
    def reset(self):
        """Hang up every live call; forget calls, conferences, messages, errors, requests and fault rules."""
        with self.lock:
            live = [c.sid for c in self.calls.values() if not c.ended]
        for sid in live:
            self.hangup(sid, by="reset")
        with self.lock:
            self.calls.clear()
            self.conferences.clear()
            self.messages.clear()
            self.error_log.clear()
            self.request_log.clear()
        self.faults.clear()

    def shutdown(self):
        """Stop background threads and hang up live calls."""
        with self.lock:
            live = [c.sid for c in self.calls.values() if not c.ended]
        for sid in live:
            try:
                self.hangup(sid, by="shutdown")
            except SimError:
                pass
        self.scheduler.stop()
        self.sender.shutdown()
