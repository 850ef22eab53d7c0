"""The Twilio REST API (2010-04-01) blueprint: routing, auth, validation, REST fault rules, and Calls.

Conferences, Participants and Messages handlers live in simulator.rest_conferences.
"""

import base64
import json
import re
import time

from flask import Blueprint, Response, current_app, request

from simulator import amd
from simulator.core import SimError
from simulator.faults import rest_error_body
from simulator.model import API_VERSION
from simulator.parties import is_dialable
from simulator.rest_conferences import (  # noqa: F401  (handlers named in ROUTES)
    create_message, create_participant, delete_message, delete_participant, fetch_conference, fetch_message,
    fetch_participant, list_conferences, list_messages, list_participants, update_conference,
    update_participant)
from simulator.restutil import events, filters, flatten, one, page_of

ACCOUNT = "/2010-04-01/Accounts/{AccountSid}"
# Twilio's From number for test credentials, valid on any account: the simulator's tests call from it.
TEST_FROM = "+15005550006"
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
        return _error(SimError.not_found(path))
    template, args = match
    items = list((request.form if request.method == "POST" else request.args).items(multi=True))
    logged = sim.log_request(request.method, path, flatten(items))
    if sim.settings.rest_latency:
        time.sleep(sim.settings.rest_latency)
    fault = _fault(sim, path, args, flatten(items))
    if fault is not None:
        # A failing rule answers before anything happens: no call is created or changed.
        logged["fault"] = fault["id"]
        return _json(rest_error_body(fault), fault["status"])
    if args.get("AccountSid") != sim.account_sid:
        return _error(SimError(20003, "Authenticate", 401))
    op = sim.spec.operation(request.method, template) if sim.spec else None
    if op is not None:
        problems = sim.spec.validate(op, items, strict=sim.settings.strict)
        if problems:
            # 20001 is Twilio's generic "invalid parameter" code; real Twilio ignores unknown names,
            # strict mode refuses them so that a typo fails a test.
            return _error(SimError(20001, "; ".join(problems), 400))
    params = flatten(items)
    try:
        body, status = globals()[ROUTES[(request.method, template)]](sim, args, params, items)
    except SimError as exc:
        return _error(exc)
    if status == 204:
        return Response(status=204)
    if op is not None and sim.settings.strict:
        _check_fields(sim, op, body)
    return _json(body, status)


def _fault(sim, path, args, params):
    """The REST fault rule that fails this request, or None; call_to/call_from match the request's To/From
    or the call it is about."""
    sid = args.get("Sid") if "/Calls/" in path else args.get("CallSid")
    call = sim.calls.get(sid) if sid else None
    return sim.faults.match_rest(request.method, path, to=one(params.get("To")), from_=one(params.get("From")),
                                 call=call)


def _check_fields(sim, op, body):
    fields = sim.spec.schema_fields(op.response_schema)
    records = body[op.list_key] if op.list_key else [body]
    for record in records:
        missing = [f for f in fields if f not in record]
        if missing:
            raise RuntimeError(f"{op.operation_id}: response lacks spec fields {missing}")


# ----- calls ------------------------------------------------------------------------------------

def create_call(sim, args, p, items):
    """calls.create: an outbound-api call to a persona, running Url or Twiml once answered."""
    to, from_ = one(p.get("To")), one(p.get("From"))
    if not is_dialable(to):
        raise SimError(21211, f"Invalid 'To' Phone Number: {to}", 400)
    if not is_dialable(from_):
        raise SimError(21212, f"Invalid 'From' Phone Number: {from_}", 400)
    _check_caller_id(sim, from_, one(p.get("CallToken")))
    if not (p.get("Url") or p.get("Twiml") or p.get("ApplicationSid")):
        raise SimError(21205, "Url parameter is required. Provide Url, Twiml or ApplicationSid.", 400)
    detection = amd.rest_options(p, strict=sim.settings.strict,
                                 asynchronous=str(p.get("AsyncAmd", "")).lower() == "true",
                                 callback=p.get("AsyncAmdStatusCallback"),
                                 callback_method=p.get("AsyncAmdStatusCallbackMethod"))
    call = sim.new_call(from_=from_, to=to, direction="outbound-api", sip=to.lower().startswith("sip:"))
    call.context = sim.context_of(from_)
    call.persona = sim.persona_for(to, call.context)
    call.url, call.method = p.get("Url"), p.get("Method", "POST")
    call.twiml = p.get("Twiml")
    call.fallback_url, call.fallback_method = p.get("FallbackUrl"), p.get("FallbackMethod", "POST")
    call.status_callback = p.get("StatusCallback")
    call.status_callback_method = p.get("StatusCallbackMethod", "POST")
    call.status_callback_events = events(p.get("StatusCallbackEvent"))
    send_digits = p.get("SendDigits")
    sim.event(call, "created", params=p)
    if send_digits and detection:
        # "If both SendDigits and MachineDetection parameters are provided, then MachineDetection will be ignored."
        sim.event(call, "amd-ignored", reason="SendDigits")
        detection = {}
    sim.start(call, "outbound-api", ring_timeout=int(p.get("Timeout", 60)), amd=detection, send_digits=send_digits)
    return call.to_json(), 201


def _check_caller_id(sim, from_, token):
    """Twilio's 21210: a phone number as From must be the account's (a configured number; one with no voice
    URL stands for a verified caller ID), or the caller's number of a live inbound call with its CallToken."""
    if not from_.startswith("+") or from_ == TEST_FROM:
        return
    with sim.lock:
        if from_ in sim.numbers:
            return
        forwarded = bool(token) and any(c.call_token == token and c.from_ == from_ and not c.ended
                                        for c in sim.calls.values())
    if not forwarded:
        raise SimError(21210, f"The source phone number provided, {from_}, is not yet verified for your account. "
                              "You may only make calls from phone numbers that you've verified or purchased from "
                              "Twilio.", 400)


def list_calls(sim, args, p, items):
    """calls.list, newest first, filtered by To/From/ParentCallSid/Status."""
    with sim.lock:
        calls = list(sim.calls.values())[::-1]
    for name, attr in (("To", "to"), ("From", "from_"), ("ParentCallSid", "parent_call_sid"), ("Status", "status")):
        if name in p:
            calls = [c for c in calls if getattr(c, attr) == p[name]]
    path = f"/{API_VERSION}/Accounts/{sim.account_sid}/Calls.json"
    return page_of(calls, p, "calls", path, filters(p, ("To", "From", "ParentCallSid", "Status"))), 200


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


