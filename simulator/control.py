"""The /sim control API: personas, numbers, placing calls, pressing keys, reading timelines."""

import json

from flask import Blueprint, Response, current_app, request

from simulator.core import SimError
from simulator.faults import FaultError
from simulator.rest import check_auth

bp = Blueprint("sim_control", __name__, url_prefix="/sim")


def _sim():
    return current_app.config["SIMULATOR"]


def _json(body, status=200):
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


@bp.before_request
def _authenticate():
    err = check_auth(_sim())
    if err:
        return _json(err.to_json(), err.status)
    return None


@bp.errorhandler(SimError)
def _sim_error(err):
    return _json(err.to_json(), err.status)


@bp.errorhandler(ValueError)
def _value_error(err):
    return _json({"code": 20001, "message": str(err), "status": 400}, 400)


def _body():
    return request.get_json(silent=True) or {}


@bp.post("/personas")
def add_persona():
    """Add or replace a persona."""
    return _json(_sim().add_persona(_body()).to_dict(), 201)


def _scope_args():
    """?scope= values; an unencoded '+' (curl '?scope=+1500…') arrives as a space and is put back."""
    values = [v for v in request.args.getlist("scope") if v.strip()]
    return ["+" + v.strip() if v.startswith(" ") and v.strip().isdigit() else v.strip() for v in values]


@bp.get("/personas")
def list_personas():
    """All personas (?scope=N…: only the scoped ones naming one of those numbers)."""
    return _json([p.to_dict() for p in _sim().list_personas(_scope_args() or None)])


@bp.delete("/personas")
def remove_personas():
    """Forget the scoped personas naming one of ?scope=N… (global personas stay)."""
    scope = _scope_args()
    if not scope:
        raise SimError(20001, "DELETE /sim/personas needs ?scope=<number> (global personas are replaced, not removed)",
                       400)
    return _json({"removed": _sim().remove_personas(scope)})


@bp.post("/numbers")
def set_number():
    """Configure a number's voice URL, fallback URL and status callback."""
    return _json(_sim().set_number(_body()).to_dict(), 201)


@bp.get("/numbers")
def list_numbers():
    """All configured numbers."""
    sim = _sim()
    with sim.lock:
        return _json([n.to_dict() for n in sim.numbers.values()])


@bp.post("/calls")
def place_call():
    """An inbound call from a persona to a configured number."""
    body = _body()
    call = _sim().place_call(body.get("from"), body.get("to"), sip=bool(body.get("sip", False)))
    return _json(call.to_sim(), 201)


@bp.get("/calls")
def list_calls():
    """All calls, oldest first."""
    sim = _sim()
    with sim.lock:
        calls = list(sim.calls.values())
    return _json([c.to_sim() for c in calls])


@bp.get("/calls/<sid>")
def get_call(sid):
    """One call."""
    return _json(_sim().get_call(sid).to_sim())


@bp.post("/calls/<sid>/digits")
def press(sid):
    """The party on the call presses keys."""
    accepted = _sim().press(sid, str(_body().get("digits", "")))
    return _json({"accepted": accepted})


@bp.post("/calls/<sid>/hangup")
def hangup(sid):
    """The party on the call hangs up."""
    return _json(_sim().hangup(sid, by="party").to_sim())


@bp.post("/calls/<sid>/agent/end")
def end_agent(sid):
    """End the agent session of a call inside <Connect>."""
    return _json(_sim().end_agent_session(sid, _body().get("handoff_data")).to_sim())


@bp.get("/calls/<sid>/timeline")
def timeline(sid):
    """Every event of a call: webhooks, TwiML, status changes, what was heard."""
    call = _sim().get_call(sid)
    with call.cv:
        return _json(list(call.timeline))


@bp.get("/calls/<sid>/heard")
def heard(sid):
    """What the party on the call heard."""
    call = _sim().get_call(sid)
    with call.cv:
        return _json([dict(e) for e in call.heard])


@bp.get("/errors")
def errors():
    """Errors recorded (Twilio debugger equivalents)."""
    sim = _sim()
    with sim.lock:
        return _json(list(sim.error_log))


@bp.get("/requests")
def requests_():
    """Every REST request the simulator received."""
    sim = _sim()
    with sim.lock:
        return _json(list(sim.request_log))


@bp.post("/settings")
def settings():
    """Change timing settings at run time."""
    sim = _sim()
    sim.settings.update(_body())
    return _json(sim.settings.as_dict())


@bp.get("/settings")
def get_settings():
    """Current settings."""
    return _json(_sim().settings.as_dict())


@bp.post("/faults")
def add_faults():
    """Add one fault rule, or {"rules": [...]}; answers the stored rules with their ids."""
    body = request.get_json(silent=True)
    try:
        rules = _sim().faults.add(body)
    except FaultError as exc:
        raise SimError(20001, str(exc), 400) from None
    return _json({"rules": rules}, 201)


@bp.get("/faults")
def list_faults():
    """The fault rules and every time one fired."""
    return _json(_sim().faults.snapshot())


@bp.delete("/faults")
def clear_faults():
    """Forget every fault rule and hit."""
    _sim().faults.clear()
    return Response(status=204)


@bp.post("/reset")
def reset():
    """Forget calls, conferences, messages, errors, requests and fault rules (personas and numbers stay)."""
    _sim().reset()
    return _json({"reset": True})
