"""The Twilio REST API (2010-04-01) blueprint: Calls, Conferences, Participants, Messages."""

import base64
import json
import re
import time
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request

from simulator import conference as conferences
from simulator.core import SimError
from simulator.model import API_VERSION, Message, Participant
from simulator.parties import is_dialable

ACCOUNT = "/2010-04-01/Accounts/{AccountSid}"
# (method, spec path template) → handler name; the conformance test walks exactly this table.
ROUTES = {
    ("POST", ACCOUNT + "/Calls.json"): "create_call",
    ("GET", ACCOUNT + "/Calls.json"): "list_calls",
    ("GET", ACCOUNT + "/Calls/{Sid}.json"): "fetch_call",
    ("POST", ACCOUNT + "/Calls/{Sid}.json"): "update_call",
    ("DELETE", ACCOUNT + "/Calls/{Sid}.json"): "delete_call",
    ("GET", ACCOUNT + "/Conferences.json"): "list_conferences",
    ("GET", ACCOUNT + "/Conferences/{Sid}.json"): "fetch_conference",
    ("POST", ACCOUNT + "/Conferences/{Sid}.json"): "update_conference",
    ("POST", ACCOUNT + "/Conferences/{ConferenceSid}/Participants.json"): "create_participant",
    ("GET", ACCOUNT + "/Conferences/{ConferenceSid}/Participants.json"): "list_participants",
    ("GET", ACCOUNT + "/Conferences/{ConferenceSid}/Participants/{CallSid}.json"): "fetch_participant",
    ("POST", ACCOUNT + "/Conferences/{ConferenceSid}/Participants/{CallSid}.json"): "update_participant",
    ("DELETE", ACCOUNT + "/Conferences/{ConferenceSid}/Participants/{CallSid}.json"): "delete_participant",
    ("POST", ACCOUNT + "/Messages.json"): "create_message",
    ("GET", ACCOUNT + "/Messages.json"): "list_messages",
    ("GET", ACCOUNT + "/Messages/{Sid}.json"): "fetch_message",
    ("DELETE", ACCOUNT + "/Messages/{Sid}.json"): "delete_message",
}


def _pattern(template):
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")


PATTERNS = [(method, template, _pattern(template)) for (method, template) in ROUTES]

bp = Blueprint("twilio_rest", __name__)


def _sim():
    return current_app.config["SIMULATOR"]


def _json(body, status=200):
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(err):
    resp = _json(err.to_json(), err.status)
    if err.status == 401:
        resp.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    return resp


def check_auth(sim):
    """HTTP Basic auth with the account SID and auth token, else Twilio's 20003."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except Exception:
            user, password = None, None
        if user == sim.account_sid and password == sim.auth_token:
            return None
    return SimError(20003, "Authenticate", 401)


@bp.route("/2010-04-01/<path:rest>", methods=["GET", "POST", "DELETE"])
def dispatch(rest):
    """Match the path against the served spec operations, authenticate, validate, run the handler."""
    sim = _sim()
    path = "/2010-04-01/" + rest
    err = check_auth(sim)
    if err:
        return _error(err)
    match = None
    for method, template, pattern in PATTERNS:
        m = pattern.match(path)
        if m and method == request.method:
            match = (template, m.groupdict())
            break
    if match is None:
        return _error(SimError(20404, f"The requested resource {path} was not found", 404))
    template, args = match
    items = list((request.form if request.method == "POST" else request.args).items(multi=True))
    sim.log_request(request.method, path, _flatten(items))
    if sim.settings.rest_latency:
        time.sleep(sim.settings.rest_latency)
    if args.get("AccountSid") != sim.account_sid:
        return _error(SimError(20003, "Authenticate", 401))
    op = sim.spec.operation(request.method, template) if sim.spec else None
    if op is not None:
        problems = sim.spec.validate(op, items, strict=sim.settings.strict)
        if problems:
            # 20001 is Twilio's generic "invalid parameter" code; real Twilio ignores unknown names,
            # strict mode refuses them so that a typo fails a test.
            return _error(SimError(20001, "; ".join(problems), 400))
    params = _flatten(items)
    try:
        body, status = globals()[ROUTES[(request.method, template)]](sim, args, params, items)
    except SimError as exc:
        return _error(exc)
    if status == 204:
        return Response(status=204)
    if op is not None and sim.settings.strict:
        _check_fields(sim, op, body)
    return _json(body, status)


def _flatten(items):
    """Form items as a dict; repeated keys become lists."""
    out = {}
    for k, v in items:
        if k in out:
            out[k] = out[k] if isinstance(out[k], list) else [out[k]]
            out[k].append(v)
        else:
            out[k] = v
    return out


def _check_fields(sim, op, body):
    fields = sim.spec.schema_fields(op.response_schema)
    records = body[op.list_key] if op.list_key else [body]
    for record in records:
        missing = [f for f in fields if f not in record]
        if missing:
            raise RuntimeError(f"{op.operation_id}: response lacks spec fields {missing}")


def _list(items, params, key, path, page_filters):
    """A Twilio list page with first/next/previous page URIs."""
    page_size = max(1, min(1000, int(params.get("PageSize", 50))))
    page = max(0, int(params.get("Page", 0)))
    start = page * page_size
    chunk = items[start:start + page_size]

    def uri(n):
        query = dict(page_filters, PageSize=page_size, Page=n)
        if n:
            query["PageToken"] = f"PA{n}"
        return f"{path}?{urlencode(query)}"

    return {
        key: [i.to_json() for i in chunk],
        "end": start + len(chunk) - 1 if chunk else start,
        "first_page_uri": uri(0),
        "next_page_uri": uri(page + 1) if start + page_size < len(items) else None,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": uri(page - 1) if page > 0 else None,
        "start": start,
        "uri": uri(page),
    }


def _filters(params, names):
    return {n: params[n] for n in names if n in params}


def _events(value):
    if value is None:
        return ("completed",)
    values = value if isinstance(value, list) else [value]
    return tuple(e for v in values for e in v.replace(",", " ").split())


def _one(value):
    return value[-1] if isinstance(value, list) else value


# ----- calls ------------------------------------------------------------------------------------

def create_call(sim, args, p, items):
    """calls.create: an outbound-api call to a persona, running Url or Twiml once answered."""
    to, from_ = _one(p.get("To")), _one(p.get("From"))
    if not is_dialable(to):
        raise SimError(21211, f"Invalid 'To' Phone Number: {to}", 400)
    if not is_dialable(from_):
        raise SimError(21212, f"Invalid 'From' Phone Number: {from_}", 400)
    if not (p.get("Url") or p.get("Twiml") or p.get("ApplicationSid")):
        raise SimError(21205, "Url parameter is required. Provide Url, Twiml or ApplicationSid.", 400)
    call = sim.new_call(from_=from_, to=to, direction="outbound-api", sip=to.lower().startswith("sip:"))
    call.persona = sim.persona_for(to)
    call.url, call.method = p.get("Url"), p.get("Method", "POST")
    call.twiml = p.get("Twiml")
    call.fallback_url, call.fallback_method = p.get("FallbackUrl"), p.get("FallbackMethod", "POST")
    call.status_callback = p.get("StatusCallback")
    call.status_callback_method = p.get("StatusCallbackMethod", "POST")
    call.status_callback_events = _events(p.get("StatusCallbackEvent"))
    amd = {}
    if p.get("MachineDetection"):
        amd = {"mode": p["MachineDetection"], "async": str(p.get("AsyncAmd", "")).lower() == "true",
               "callback": p.get("AsyncAmdStatusCallback"), "callback_method": p.get("AsyncAmdStatusCallbackMethod")}
    sim.event(call, "created", params=p)
    sim.start(call, "outbound-api", ring_timeout=int(p.get("Timeout", 60)), amd=amd)
    return call.to_json(), 201


def list_calls(sim, args, p, items):
    """calls.list, newest first, filtered by To/From/ParentCallSid/Status."""
    with sim.lock:
        calls = list(sim.calls.values())[::-1]
    for name, attr in (("To", "to"), ("From", "from_"), ("ParentCallSid", "parent_call_sid"), ("Status", "status")):
        if name in p:
            calls = [c for c in calls if getattr(c, attr) == p[name]]
    path = f"/{API_VERSION}/Accounts/{sim.account_sid}/Calls.json"
    return _list(calls, p, "calls", path, _filters(p, ("To", "From", "ParentCallSid", "Status"))), 200


def fetch_call(sim, args, p, items):
    """calls(sid).fetch."""
    return sim.get_call(args["Sid"]).to_json(), 200


def update_call(sim, args, p, items):
    """calls(sid).update: Twiml/Url redirect, Status=completed|canceled."""
    call = sim.get_call(args["Sid"])
    if "StatusCallback" in p:
        call.status_callback = p["StatusCallback"]
        call.status_callback_method = p.get("StatusCallbackMethod", "POST")
    if "FallbackUrl" in p:
        call.fallback_url, call.fallback_method = p["FallbackUrl"], p.get("FallbackMethod", "POST")
    status = p.get("Status")
    if status == "canceled":
        # Twilio's canceled only affects queued or ringing calls; an answered call is left as is.
        if call.status in ("queued", "initiated", "ringing"):
            sim.hangup(call.sid, by="api", status="canceled")
    elif status == "completed":
        if not call.ended:
            sim.hangup(call.sid, by="api", status="completed")
    elif "Twiml" in p or "Url" in p:
        if call.ended or call.hangup_reason or call.status not in ("in-progress", "ringing"):
            raise SimError(21220, "Call is not in-progress. Cannot redirect.", 400)
        source = ("twiml", p["Twiml"]) if "Twiml" in p else ("url", p["Url"], p.get("Method", "POST"))
        sim.redirect(call, source)
    _settle(call)
    return call.to_json(), 200


def _settle(call, timeout=2.0):
    """Let a hang-up requested through the API finish before answering, as Twilio's response shows it."""
    if call.hangup_reason:
        deadline = time.monotonic() + timeout
        with call.cv:
            while not call.ended and time.monotonic() < deadline:
                call.cv.wait(0.05)


def delete_call(sim, args, p, items):
    """calls(sid).delete: removes the record (a live call keeps running, as Twilio's log deletion)."""
    call = sim.get_call(args["Sid"])
    with sim.lock:
        sim.calls.pop(call.sid, None)
    return None, 204


# ----- conferences -------------------------------------------------------------------------------

def _conference(sim, sid):
    conf = sim.conferences.get(sid)
    if conf is None:
        raise SimError(20404, f"The requested resource /{API_VERSION}/Accounts/{sim.account_sid}/Conferences/{sid}.json was not found", 404)
    return conf


def list_conferences(sim, args, p, items):
    """conferences.list, newest first, filtered by FriendlyName and Status."""
    with sim.lock:
        confs = list(sim.conferences.values())[::-1]
    if "FriendlyName" in p:
        confs = [c for c in confs if c.friendly_name == p["FriendlyName"]]
    if "Status" in p:
        confs = [c for c in confs if c.status == p["Status"]]
    path = f"/{API_VERSION}/Accounts/{sim.account_sid}/Conferences.json"
    return _list(confs, p, "conferences", path, _filters(p, ("FriendlyName", "Status"))), 200


def fetch_conference(sim, args, p, items):
    """conferences(sid).fetch."""
    return _conference(sim, args["Sid"]).to_json(), 200


def update_conference(sim, args, p, items):
    """conferences(sid).update: Status=completed ends it; AnnounceUrl plays to everyone."""
    conf = _conference(sim, args["Sid"])
    if p.get("Status") == "completed":
        conferences.end(sim, conf, "conference-ended-via-api")
    if p.get("AnnounceUrl"):
        conferences.announce(sim, conf, p["AnnounceUrl"], p.get("AnnounceMethod", "POST"))
    return conf.to_json(), 200


def _participant_conf(sim, key):
    # participants.create accepts a friendly name in place of the SID (Twilio creates the conference).
    return sim.find_conference(key, create=False)


def create_participant(sim, args, p, items):
    """participants.create: call To and put it into the conference once answered."""
    to, from_ = p.get("To"), p.get("From")
    if not is_dialable(to):
        raise SimError(21211, f"Invalid 'To' Phone Number: {to}", 400)
    if not is_dialable(from_):
        raise SimError(21212, f"Invalid 'From' Phone Number: {from_}", 400)
    key = args["ConferenceSid"]
    conf = sim.find_conference(key, create=not (key.startswith("CF") and len(key) == 34))
    if conf.status == "completed":
        raise SimError(20404, f"Conference {key} is completed", 404)
    with sim.lock:
        conferences.configure_callbacks(conf, p.get("ConferenceStatusCallback"),
                                        p.get("ConferenceStatusCallbackMethod"),
                                        " ".join(_events(p.get("ConferenceStatusCallbackEvent", ""))))
    call = sim.new_call(from_=from_, to=to, direction="outbound-api", sip=to.lower().startswith("sip:"))
    call.persona = sim.persona_for(to)
    call.status_callback = p.get("StatusCallback")
    call.status_callback_method = p.get("StatusCallbackMethod", "POST")
    call.status_callback_events = _events(p.get("StatusCallbackEvent"))
    participant = Participant(
        conference=conf, call_sid=call.sid, label=p.get("Label"),
        start_conference_on_enter=str(p.get("StartConferenceOnEnter", "true")).lower() == "true",
        end_conference_on_exit=str(p.get("EndConferenceOnExit", "false")).lower() == "true",
        muted=str(p.get("Muted", "false")).lower() == "true",
        coaching=str(p.get("Coaching", "false")).lower() == "true",
        call_sid_to_coach=p.get("CallSidToCoach"), beep=p.get("Beep", "true"),
        wait_url=p.get("WaitUrl"), wait_method=p.get("WaitMethod", "POST"),
    )
    with sim.lock:
        conf.participants[call.sid] = participant
    amd = {}
    if p.get("MachineDetection"):
        amd = {"mode": p["MachineDetection"], "async": True, "callback": p.get("AmdStatusCallback"),
               "callback_method": p.get("AmdStatusCallbackMethod")}
    sim.event(call, "created", params=p, conference=conf.friendly_name)
    sim.start(call, "participant", ring_timeout=int(p.get("Timeout", 60)), amd=amd, join=(conf, participant))
    return participant.to_json(), 201


def list_participants(sim, args, p, items):
    """participants.list, filtered by Muted/Hold/Coaching."""
    conf = _participant_conf(sim, args["ConferenceSid"])
    with sim.lock:
        parts = list(conf.participants.values())
    for name, attr in (("Muted", "muted"), ("Hold", "hold"), ("Coaching", "coaching")):
        if name in p:
            parts = [x for x in parts if getattr(x, attr) == (p[name].lower() == "true")]
    path = f"/{API_VERSION}/Accounts/{sim.account_sid}/Conferences/{conf.sid}/Participants.json"
    return _list(parts, p, "participants", path, _filters(p, ("Muted", "Hold", "Coaching"))), 200


def fetch_participant(sim, args, p, items):
    """participants(call_sid or label).fetch."""
    conf = _participant_conf(sim, args["ConferenceSid"])
    return sim.find_participant(conf, args["CallSid"]).to_json(), 200


def update_participant(sim, args, p, items):
    """participants(call_sid or label).update."""
    conf = _participant_conf(sim, args["ConferenceSid"])
    participant = sim.find_participant(conf, args["CallSid"])
    conferences.update_participant(sim, conf, participant, p)
    return participant.to_json(), 200


def delete_participant(sim, args, p, items):
    """participants(call_sid or label).delete: kick the participant out of the conference."""
    conf = _participant_conf(sim, args["ConferenceSid"])
    participant = sim.find_participant(conf, args["CallSid"])
    conferences.leave(sim, conf, participant, reason="participant_updated_via_api", kicked=True)
    call = sim.calls.get(participant.call_sid)
    if call is not None:
        call.poke()
    return None, 204


# ----- messages ----------------------------------------------------------------------------------

def create_message(sim, args, p, items):
    """messages.create."""
    to = p.get("To")
    if not is_dialable(to) or to.lower().startswith("sip:"):
        raise SimError(21211, f"Invalid 'To' Phone Number: {to}", 400)
    if not p.get("From") and not p.get("MessagingServiceSid"):
        raise SimError(21603, "A 'From' phone number is required.", 400)
    media = p.get("MediaUrl") or []
    media = media if isinstance(media, list) else [media]
    if not p.get("Body") and not media and not p.get("ContentSid"):
        raise SimError(21602, "Message body is required.", 400)
    message = Message(account_sid=sim.account_sid, to=to, from_=p.get("From"), body=p.get("Body"),
                      media_urls=media, messaging_service_sid=p.get("MessagingServiceSid"))
    message.status_callback = p.get("StatusCallback")
    sim.add_message(message)
    return message.to_json(), 201


def list_messages(sim, args, p, items):
    """messages.list, newest first, filtered by To/From."""
    with sim.lock:
        msgs = list(sim.messages.values())[::-1]
    for name, attr in (("To", "to"), ("From", "from_")):
        if name in p:
            msgs = [m for m in msgs if getattr(m, attr) == p[name]]
    path = f"/{API_VERSION}/Accounts/{sim.account_sid}/Messages.json"
    return _list(msgs, p, "messages", path, _filters(p, ("To", "From"))), 200


def _message(sim, sid):
    message = sim.messages.get(sid)
    if message is None:
        raise SimError(20404, f"The requested resource /{API_VERSION}/Accounts/{sim.account_sid}/Messages/{sid}.json was not found", 404)
    return message


def fetch_message(sim, args, p, items):
    """messages(sid).fetch."""
    return _message(sim, args["Sid"]).to_json(), 200


def delete_message(sim, args, p, items):
    """messages(sid).delete."""
    message = _message(sim, args["Sid"])
    with sim.lock:
        sim.messages.pop(message.sid, None)
    return None, 204
