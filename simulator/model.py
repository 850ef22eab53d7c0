"""State of calls, conferences, participants and messages, and their Twilio JSON shapes."""

import threading
import time
import uuid
from email.utils import formatdate

API_VERSION = "2010-04-01"
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


def new_sid(prefix):
    """A SID in Twilio's format: two-letter prefix + 32 lowercase hex digits."""
    return prefix + uuid.uuid4().hex


def rfc2822(ts):
    """Twilio's date format, e.g. 'Tue, 31 Aug 2010 20:36:28 +0000' (None stays None)."""
    return None if ts is None else formatdate(ts, usegmt=False).replace("-0000", "+0000")


def queue_ms(seconds):
    """Twilio's queue_time: the wait before the call is placed, in milliseconds, as a string."""
    return str(int(round((seconds or 0.0) * 1000)))


def format_number(number):
    """Twilio's *_formatted field: '(415) 867-5309' for NANP numbers, else the value unchanged."""
    if number and number.startswith("+1") and len(number) == 12 and number[2:].isdigit():
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number


class Call:
    """One call leg with its own condition variable; all of its fields change under `cv`."""

    def __init__(self, *, account_sid, from_, to, direction, parent_call_sid=None, sip=False):
        self.sid = new_sid("CA")
        self.account_sid = account_sid
        self.from_ = from_
        self.to = to
        self.direction = direction
        self.parent_call_sid = parent_call_sid
        self.sip = sip
        self.status = "queued"
        self.answered_by = None
        self.amd_duration_ms = None
        self.forwarded_from = None
        self.caller_name = None
        self.call_token = None       # an inbound call's CallToken: calls.create may then use its From
        self.date_created = time.time()
        self.date_updated = self.date_created
        self.start_time = None
        self.answer_time = None
        self.end_time = None
        self.queue_time = 0.0        # seconds it waits for the account's CPS (an estimate until it is placed)
        self.persona = None          # the scripted party at the far end of this leg
        self.context = ()            # the numbers scoped personas are matched by (Simulator.context_of)
        # Where the call's first document comes from.
        self.url = None
        self.method = "POST"
        self.fallback_url = None
        self.fallback_method = "POST"
        self.twiml = None
        self.status_callback = None
        self.status_callback_method = "POST"
        self.status_callback_events = ("completed",)
        self.sequence = 0
        # What the simulator shows about the call.
        self.activity = "queued"
        self.agent = {"connected": False, "sessions": 0, "url": None, "parameters": {}, "handoff_data": None}
        self.conference = None
        self.bridged_with = None
        self.timeline = []
        self.heard = []
        # Signals to the call's runner thread.
        self.cv = threading.Condition()
        self.hangup_reason = None    # set once: who/what ended the call
        self.final_status = None     # status the call ends with when hangup_reason is set
        self.redirect = None         # ("twiml", xml) or ("url", url, method)
        self.digits = ""
        self.accepting_digits = False
        self.agent_end = None        # handoff data str once the agent session ended
        self.bridge_ready = False    # a dialed leg finished its whisper and may be bridged
        self.kicked = False          # removed from its conference

    @property
    def ended(self):
        """True once the call has a final status."""
        return self.status in FINAL_STATUSES

    def poke(self):
        """Wake the call's runner so it re-checks its signals."""
        with self.cv:
            self.cv.notify_all()

    def duration(self):
        """Seconds since answer (to end if ended), as Twilio counts billable duration."""
        if self.answer_time is None:
            return 0
        return int(round((self.end_time or time.time()) - self.answer_time))

    def uri(self):
        """The call's REST URI."""
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json"

    def to_json(self):
        """The call in the api.v2010.account.call shape."""
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}"
        subs = ("notifications", "recordings", "payments", "events", "siprec", "streams",
                "transcriptions", "user_defined_message_subscriptions", "user_defined_messages")
        names = {"user_defined_message_subscriptions": "UserDefinedMessageSubscriptions",
                 "user_defined_messages": "UserDefinedMessages"}
        return {
            "sid": self.sid,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated),
            "parent_call_sid": self.parent_call_sid,
            "account_sid": self.account_sid,
            "to": self.to,
            "to_formatted": format_number(self.to),
            "from": self.from_,
            "from_formatted": format_number(self.from_),
            "phone_number_sid": None,
            "status": self.status,
            "start_time": rfc2822(self.start_time),
            "end_time": rfc2822(self.end_time),
            "duration": str(self.duration()) if self.ended else None,
            "price": None,
            "price_unit": "USD",
            "direction": self.direction,
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "forwarded_from": self.forwarded_from,
            "group_sid": None,
            "caller_name": self.caller_name,
            "queue_time": queue_ms(self.queue_time),
            "trunk_sid": None,
            "uri": self.uri(),
            "subresource_uris": {
                s: f"{base}/{names.get(s, s.title())}.json" for s in subs
            },
        }

    def to_sim(self):
        """The call as the control API shows it."""
        return {
            "sid": self.sid,
            "from": self.from_,
            "to": self.to,
            "status": self.status,
            "direction": self.direction,
            "parent_call_sid": self.parent_call_sid,
            "answered_by": self.answered_by,
            "activity": self.activity,
            "agent": dict(self.agent, parameters=dict(self.agent["parameters"])),
            "conference": self.conference,
            "bridged_with": self.bridged_with,
            "sip": self.sip,
            "duration": self.duration(),
        }


class Conference:
    """A conference room; participants keyed by call SID, guarded by the simulator's lock."""

    def __init__(self, *, account_sid, friendly_name):
        self.sid = new_sid("CF")
        self.account_sid = account_sid
        self.friendly_name = friendly_name
        self.status = "init"
        self.date_created = time.time()
        self.date_updated = self.date_created
        self.reason_conference_ended = None
        self.call_sid_ending_conference = None
        self.participants = {}
        self.ever_connected = False
        self.status_callback = None
        self.status_callback_method = "POST"
        self.status_callback_events = ()
        self.sequence = 0

    def uri(self):
        """The conference's REST URI."""
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Conferences/{self.sid}.json"

    def to_json(self):
        """The conference in the api.v2010.account.conference shape."""
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Conferences/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated),
            "api_version": API_VERSION,
            "friendly_name": self.friendly_name,
            "region": "us1",
            "sid": self.sid,
            "status": self.status,
            "uri": self.uri(),
            "subresource_uris": {
                "participants": f"{base}/Participants.json",
                "recordings": f"{base}/Recordings.json",
            },
            "reason_conference_ended": self.reason_conference_ended,
            "call_sid_ending_conference": self.call_sid_ending_conference,
        }


class Participant:
    """A call's membership of a conference."""

    def __init__(self, *, conference, call_sid, label=None, start_conference_on_enter=True,
                 end_conference_on_exit=False, muted=False, coaching=False, call_sid_to_coach=None,
                 beep="true", wait_url=None, wait_method="POST"):
        self.conference = conference
        self.call_sid = call_sid
        self.label = label
        self.start_conference_on_enter = start_conference_on_enter
        self.end_conference_on_exit = end_conference_on_exit
        self.muted = muted
        self.hold = False
        self.hold_url = None
        self.hold_method = "GET"
        self.coaching = coaching
        self.call_sid_to_coach = call_sid_to_coach
        self.beep = beep
        self.wait_url = wait_url
        self.wait_method = wait_method
        self.status = "queued"
        self.queue_time = 0.0        # its call's (Call.queue_time)
        self.date_created = time.time()
        self.date_updated = self.date_created

    def to_json(self):
        """The participant in the api.v2010.account.conference.participant shape."""
        c = self.conference
        return {
            "account_sid": c.account_sid,
            "call_sid": self.call_sid,
            "label": self.label,
            "call_sid_to_coach": self.call_sid_to_coach,
            "coaching": self.coaching,
            "conference_sid": c.sid,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated),
            "end_conference_on_exit": self.end_conference_on_exit,
            "muted": self.muted,
            "hold": self.hold,
            "start_conference_on_enter": self.start_conference_on_enter,
            "status": self.status,
            "queue_time": queue_ms(self.queue_time),
            "uri": f"/{API_VERSION}/Accounts/{c.account_sid}/Conferences/{c.sid}/Participants/{self.call_sid}.json",
        }


class Message:
    """An SMS/MMS message sent through the REST API."""

    def __init__(self, *, account_sid, to, from_, body, media_urls=(), messaging_service_sid=None):
        self.sid = new_sid("SM")
        self.account_sid = account_sid
        self.to = to
        self.from_ = from_
        self.body = body or ""
        self.media_urls = list(media_urls)
        self.messaging_service_sid = messaging_service_sid
        self.status = "queued"
        self.date_created = time.time()
        self.date_updated = self.date_created
        self.date_sent = None
        self.status_callback = None
        self.error_code = None          # set when it ends undelivered/failed (simulator/messages.py)
        self.error_message = None

    def to_json(self):
        """The message in the api.v2010.account.message shape."""
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        # GSM-7 single segment holds 160 characters; longer bodies are split into 153-char parts.
        segments = 1 if len(self.body) <= 160 else -(-len(self.body) // 153)
        return {
            "body": self.body,
            "num_segments": str(segments),
            "direction": "outbound-api",
            "from": self.from_,
            "to": self.to,
            "date_updated": rfc2822(self.date_updated),
            "price": None,
            "error_message": self.error_message,
            "uri": f"{base}.json",
            "account_sid": self.account_sid,
            "num_media": str(len(self.media_urls)),
            "status": self.status,
            "messaging_service_sid": self.messaging_service_sid,
            "sid": self.sid,
            "date_sent": rfc2822(self.date_sent),
            "date_created": rfc2822(self.date_created),
            "error_code": self.error_code,
            "price_unit": "USD",
            "api_version": API_VERSION,
            "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
        }
