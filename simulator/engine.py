"""The TwiML interpreter: one thread per live call, every wait interruptible by hang-up or redirect."""

import threading
import time
from urllib.parse import urljoin

from simulator import twiml
from simulator.faults import WEBHOOK_EVENTS
from simulator.model import queue_ms
from simulator.twiml import TwimlError, APP_ERROR_TEXT

DEFAULT_WAIT_MUSIC = "http://twimlets.com/holdmusic?Bucket=com.twilio.music.classical"
AUDIO_SUFFIXES = (".mp3", ".wav", ".ogg", ".aif", ".aiff", ".gsm", ".ulaw")
XML_TYPES = ("text/xml", "application/xml", "text/html")


class Hangup(Exception):
    """The call ended while a verb was running."""


class Redirected(Exception):
    """The call was redirected through the REST API."""


class NextDocument(Exception):
    """A verb asked for a new document (action, Redirect)."""

    def __init__(self, source):
        super().__init__(source)
        self.source = source


class CallRunner(threading.Thread):
    """Runs one call: ringing, answering, documents, and the end of the call."""

    def __init__(self, sim, call, mode, *, ring_timeout=None, whisper=None, amd=None, send_digits=None,
                 join=None):
        super().__init__(name=f"call-{call.sid[-6:]}", daemon=True)
        self.sim = sim
        self.call = call
        self.mode = mode  # inbound | outbound-api | dial-leg | participant
        self.ring_timeout = ring_timeout
        self.whisper = whisper            # (url, method) for a dialed leg's <Number url=…>
        self.amd = amd or {}              # machine detection options
        self.send_digits = send_digits
        self.join = join                  # (conference, participant) for participants.create
        self.whisper_mode = False
        self.choice_prompt = False        # inside a <Gather> offering accept/decline keys (verbs.offers_choice)
        self.redirectable = True
        self.doc_url = None

    # ----- plumbing -----------------------------------------------------------------------------
    def run(self):
        call = self.call
        try:
            getattr(self, "_run_" + self.mode.replace("-", "_"))()
        except Hangup:
            pass
        except Exception as exc:  # a simulator bug must still end the call and be visible
            self.sim.record_error(call, 0, f"simulator error: {exc!r}")
        finally:
            status = call.final_status or "completed"
            if call.answer_time is None and status == "completed" and call.status in ("queued", "initiated", "ringing"):
                status = "canceled" if call.hangup_reason else "completed"
            self.sim.transition(call, status)

    def check(self):
        """Raise if the call was hung up or redirected."""
        call = self.call
        if call.hangup_reason:
            raise Hangup()
        if call.redirect and self.redirectable:
            raise Redirected()

    def wait(self, seconds=None, until=None):
        """Wait up to `seconds` (None = no limit) or until `until()` holds; True if it held."""
        call = self.call
        deadline = None if seconds is None else time.monotonic() + max(0.0, seconds)
        with call.cv:
            while True:
                self.check()
                if until is not None and until():
                    return True
                if deadline is None:
                    call.cv.wait(1.0)  # also re-check predicates that depend on other objects
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                call.cv.wait(min(remaining, 1.0))

    def set_activity(self, activity):
        """Show what the call is doing."""
        with self.call.cv:
            self.call.activity = activity
        self.sim.event(self.call, "activity", activity=activity)

    def answer(self):
        """Answer the call (status in-progress) if it is not yet answered."""
        if self.call.status in ("queued", "initiated", "ringing"):
            self.sim.transition(self.call, "in-progress")

    def listen(self, kind, seconds, until=None, **data):
        """The party hears something for `seconds`; returns True if `until` cut it short."""
        entry = self.sim.hear(self.call, kind, seconds=0.0, **data)
        start = time.monotonic()
        try:
            return self.wait(seconds, until)
        finally:
            entry["seconds"] = round(time.monotonic() - start, 3)

    # ----- modes --------------------------------------------------------------------------------
    def _run_inbound(self):
        self.sim.transition(self.call, "ringing")
        self.run_documents(("url", self.call.url, self.call.method))

    def _run_outbound_api(self):
        self.wait_turn()
        if not self.ring():
            return
        self.detect_machine()
        self.route_digits()
        call = self.call
        source = ("twiml", call.twiml) if call.twiml else ("url", call.url, call.method)
        self.run_documents(source)

    def _run_dial_leg(self):
        if not self.ring():
            return
        self.detect_machine()
        self.route_digits()
        if self.whisper:
            self.whisper_mode = True
            self.redirectable = True
            finished = self.run_documents(("url",) + tuple(self.whisper), end_call=False)
            self.whisper_mode = False
            if not finished:
                return
        with self.call.cv:
            self.call.bridge_ready = True
            self.call.cv.notify_all()
        parent = self.sim.calls.get(self.call.parent_call_sid)
        if parent:
            parent.poke()
        self.set_activity("bridged")
        self.wait(None)  # until the bridge (or either party) hangs it up

    def _run_participant(self):
        from simulator.conference import in_conference, drop

        conference, participant = self.join
        try:
            self.wait_turn()
        except Hangup:
            drop(self.sim, conference, participant)     # canceled while queued: it never joined
            raise
        if not self.ring():
            drop(self.sim, conference, participant)
            return
        self.detect_machine()
        in_conference(self, conference, participant)
        # A call created by participants.create has no TwiML of its own: leaving the conference ends it.
        self.sim.hangup(self.call.sid, by="conference")

    # ----- ringing and answering ----------------------------------------------------------------
    def wait_turn(self):
        """A call created through the REST API stays `queued` (no callback: Twilio has no such event) until
        the account's CPS lets it be placed; its ring timeout only starts once it rings."""
        call, queue = self.call, self.sim.outbound
        try:
            while True:
                remaining = queue.take(call)
                if remaining <= 0:
                    break
                self.wait(remaining, until=lambda: queue.due(call))
        except Hangup:
            queue.leave(call)     # canceled while queued: the calls behind it move up
            raise
        if call.queue_time > 0:
            with call.cv:
                call.queue_time = max(0.0, time.time() - call.date_created)
            self.sim.event(call, "dequeued", queue_time=queue_ms(call.queue_time))

    def ring(self):
        """Ring the persona at the far end; True once it answered, else the call ends with its status."""
        call, sim = self.call, self.sim
        persona = call.persona
        sim.transition(call, "initiated")
        self.set_activity("ringing")
        timeout = self.ring_timeout if self.ring_timeout is not None else 60
        if persona is None:
            # An unassigned number: the carrier rejects it at once (Twilio reports failed).
            sim.event(call, "unassigned", to=call.to)
            call.final_status = "failed"
            return False
        if persona.kind == "unreachable":
            call.final_status = "failed"
            return False
        sim.transition(call, "ringing")
        if persona.kind == "busy":
            self.wait(min(0.05, timeout))
            call.final_status = "busy"
            return False
        if persona.kind == "no-answer" or persona.answer_after >= timeout:
            self.wait(timeout)
            call.final_status = "no-answer"
            return False
        self.wait(persona.answer_after)
        self.answer()
        return True

    def detect_machine(self):
        """Answering machine detection (MachineDetection / AsyncAmd, machineDetection on <Number>)."""
        from simulator import amd

        amd.detect(self)

    def route_digits(self):
        """sendDigits (a dialed leg, or calls.create SendDigits): an IVR persona routes to the extension dialed."""
        digits = self.send_digits
        if not digits:
            return
        self.sim.event(self.call, "send-digits", digits=digits)
        self.wait(0.5 * digits.count("w") + digits.count("W") + 0.001)  # 'w' pauses 0.5 s, 'W' 1 s (Twilio)
        persona = self.call.persona
        dialed = digits.replace("w", "").replace("W", "")
        if persona and persona.kind == "ivr" and dialed in persona.extensions:
            target = self.sim.persona_for(persona.extensions[dialed], self.call.context)
            self.sim.event(self.call, "ivr-route", extension=dialed, to=persona.extensions[dialed])
            if target is None or target.kind in ("no-answer", "busy", "unreachable"):
                self.sim.hangup(self.call.sid, by="party")
                self.check()
            self.call.persona = target
            self.wait(target.answer_after)
            if target.hangup_after is not None:
                self.sim.scheduler.after(target.hangup_after, lambda: self.sim.hangup(self.call.sid, by="party"))

    # ----- documents ---------------------------------------------------------------------------
    def run_documents(self, source, *, end_call=True):
        """Fetch and execute documents until one ends; True if the last one ended without hang-up."""
        call = self.call
        while True:
            try:
                doc = self.fetch(source)
                if doc is None:
                    return False
                self.execute(doc)
                if end_call:
                    self.sim.hangup(call.sid, by="twiml-end")
                    raise Hangup()
                return True
            except NextDocument as nd:
                source = nd.source
            except Redirected:
                with call.cv:
                    source, call.redirect = call.redirect, None
                if self.whisper_mode:
                    self.whisper_mode = False
                    end_call = True

    def fetch(self, source, *, extra=None, use_fallback=True):
        """The <Response> element for a source; on failure the fallback URL, else the application error."""
        call = self.call
        if source[0] == "url" and len(source) > 3:  # an action: (url, url, method, extra params)
            extra = {**(source[3] or {}), **(extra or {})}
            source = source[:3]
        if source[0] == "twiml":
            self.doc_url = None
            return self.parse(source[1], url=None)
        url, method = source[1], (source[2] if len(source) > 2 else "POST") or "POST"
        url = urljoin(self.doc_url, url) if self.doc_url else url
        params = self.sim.call_params(call)
        params.update(extra or {})
        result = self.request_document(url, params, method)
        self.sim.event(call, "webhook", **result.to_event())
        self.check()
        code, message = result.error_code, result.error_message
        doc = None
        if result.ok:
            ctype = result.content_type.split(";")[0].strip().lower()
            if ctype.startswith("audio/"):
                # Twilio plays an audio response as if it were <Play>.
                self.doc_url = url
                return twiml.parse(f"<Response><Play>{url}</Play></Response>", strict=False)
            if ctype not in XML_TYPES:
                code, message = 12300, f"Invalid Content-Type: {ctype or '(none)'} from {url}"
            else:
                try:
                    doc = self.parse(result.body, url=url)
                except TwimlError as exc:
                    code, message = exc.code, exc.message
        if doc is not None:
            return doc
        self.sim.record_error(call, code, message, url)
        if use_fallback and call.fallback_url and url != call.fallback_url:
            fb_extra = {"ErrorCode": str(code), "ErrorUrl": url}
            return self.fetch(("url", call.fallback_url, call.fallback_method), extra=fb_extra, use_fallback=False)
        self.application_error()
        return None

    def request_document(self, url, params, method, *, until=None):
        """Request a TwiML document, subject to the webhook fault rules; None if `until` ended the wait.

        drop: the request is never delivered and the call hears silence until it is redirected or hung up
        (or `until` holds); delay: it is made `seconds` later; duplicate: it is made once more `seconds`
        later and that answer is ignored.
        """
        from simulator.delivery import send_copy

        sim, call = self.sim, self.call
        rule = sim.faults.match_webhook(url, kind="document", params=params, calls=[call])
        if rule is not None:
            action = rule["action"]
            sim.event(call, WEBHOOK_EVENTS[action], url=url, rule=rule["id"], seconds=rule["seconds"])
            if action in ("drop", "delay"):
                self.set_activity("waiting-for-document")
                if self.listen("silence", None if action == "drop" else rule["seconds"], until):
                    return None
        result = sim.webhooks.request(url, params, method=method)
        if rule is not None and rule["action"] == "duplicate":
            send_copy(sim, call, url, params, method, rule["seconds"])
        return result

    def parse(self, text, *, url):
        """Parse a document and remember its URL for relative actions."""
        root = twiml.parse(text or "", strict=self.sim.settings.strict)
        self.sim.event(self.call, "twiml", url=url, xml=text)
        self.doc_url = url
        return root

    def application_error(self):
        """What the caller hears when the application fails, then the call ends."""
        self.answer()
        self.set_activity("say")
        seconds = len(APP_ERROR_TEXT) * self.sim.settings.speech_seconds_per_char
        self.redirectable = False
        try:
            self.listen("say", seconds, text=APP_ERROR_TEXT)
        finally:
            self.redirectable = True
        self.sim.hangup(self.call.sid, by="application-error")
        raise Hangup()

    def absolute(self, url):
        """A URL from the current document, made absolute against the document's URL (as Twilio does)."""
        return urljoin(self.doc_url, url) if url and self.doc_url else url

    def action(self, url, method, extra):
        """Request an action URL; its document continues the call."""
        url = self.absolute(url)
        raise NextDocument(("url", url, method or "POST", extra))

    def execute(self, root):
        """Run the verbs of a <Response>."""
        from simulator import verbs

        for element in root:
            self.check()
            handler = getattr(verbs, "verb_" + element.tag.lower())
            if element.tag not in ("Reject", "Dial") and not self.whisper_mode:
                self.answer()
            handler(self, element)

