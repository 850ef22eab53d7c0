"""The Live Inspector at /inspector: live calls, recent transfers, each transfer as swimlanes; cancel.

Pages and their JSON are session-authenticated (blueprints/inspector_auth.py); the live feed is one
Server-Sent Events stream per page (blueprints/inspector_stream.py). The domain decides what a
swimlane shows (handoff/swimlanes.py); the page's JavaScript only draws it.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from handoff import swimlanes
from handoff.state import Outcome, TransferMode, TransferStatus
from handoff.transfer import chain
from handoff.transfer.views import present_transfer

from . import inspector_auth as auth
from . import inspector_stream
from .api import cancel as cancel_transfer, check_transfer_id
from .api_listing import listing, read_page
from .errors import ApiError
from .listing_schemas import CallQuery, TransferQuery

bp = Blueprint("inspector", __name__, url_prefix="/inspector", template_folder="templates",
               static_folder="static/inspector", static_url_path="/static")
bp.record_once(lambda state: auth.configure(state.app))

_transfer_query = TransferQuery()
_call_query = CallQuery()
# Everything the page loads comes from us: no inline script, no other origin.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def _runtime():
    return current_app.extensions["handoff"]


@bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype in ("application/json", "text/html"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _page_context():
    runtime = current_app.extensions["handoff"]
    return {"label": auth.current_label(), "csrf_token": auth.csrf_token(),
            "local_mode": runtime.config.local_mode,
            "key_source": current_app.extensions.get("inspector_key_source")}


# -- pages ---------------------------------------------------------------------------------------

bp.add_url_rule("/login", "login", auth.login, methods=["GET", "POST"])
bp.add_url_rule("/logout", "logout", auth.logout, methods=["POST"])


@bp.get("/")
@auth.login_required(page=True)
def index():
    """The Inspector: live calls and recent transfers, and the selected transfer's swimlanes."""
    return _page(None)


@bp.get("/transfers/<transfer_id>")
@auth.login_required(page=True)
def transfer_page(transfer_id: str):
    """The Inspector with one transfer open (a link people can share)."""
    check_transfer_id(transfer_id)
    return _page(transfer_id)


def _page(selected: str | None):
    return render_template("inspector/index.html", selected=selected or "",
                           last_event_id=_runtime().events.last_id(),
                           outcomes=[o.value for o in Outcome], modes=[m.value for m in TransferMode],
                           statuses=["active"] + [s.value for s in TransferStatus])


# -- data ------------------------------------------------------------------------------------------

@bp.get("/transfers.json")
@auth.login_required(page=False)
def transfers():
    """Recent transfers, newest first, filtered like GET /api/transfers."""
    page, _ = read_page(_transfer_query, listing().transfers)
    for item in page.items:
        _words(item)
    return jsonify({"items": page.items, "next_cursor": page.next_cursor})


def _words(item: dict) -> dict:
    """A listed transfer's colour family and outcome sentence (the page draws, the domain words)."""
    item["tone"] = swimlanes.transfer_tone(item.get("status"), item.get("outcome"))
    words = swimlanes.describe_outcome(item["outcome"], item.get("outcome_detail"),
                                       destination=item.get("destination")) if item.get("outcome") else None
    item["outcome_words"] = words["sentence"] if words else None
    item["label"] = words["label"] if words else item.get("status")
    return item


@bp.get("/calls.json")
@auth.login_required(page=False)
def calls():
    """Calls, newest first (?status=active: the live ones), each with its transfers."""
    page, _ = read_page(_call_query, listing().calls)
    for call in page.items:
        call["transfers"] = [_words(t) for t in call["transfers"]]
    return jsonify({"items": page.items, "next_cursor": page.next_cursor})


def _swimlanes(transfer_id: str) -> dict:
    check_transfer_id(transfer_id)
    store = _runtime().store
    t, events = store.get_transfer_with_events(transfer_id)
    if t is None:
        raise ApiError(404, "not_found", f"No transfer {transfer_id}")
    view = present_transfer(t, events)
    data = swimlanes.build(view, events, call=store.get_call(t.call_sid),
                           accept_key=t.settings.accept_key, decline_key=t.settings.decline_key)
    data["chain"] = _chain(store, t)
    return data


def _chain(store, t) -> list[dict]:
    """The call's chain of transfers, in order, each worded like a listed one (empty for a lone transfer)."""
    return [_words({**link, "id": link["transfer_id"], "current": link["transfer_id"] == t.id})
            for link in chain.call_links(store, t)]


@bp.get("/transfers/<transfer_id>.json")
@auth.login_required(page=False)
def transfer_data(transfer_id: str):
    """One transfer as swimlanes (lanes, steps, outcome in words)."""
    return jsonify(_swimlanes(transfer_id))


@bp.get("/transfers/<transfer_id>/heard.json")
@auth.login_required(page=False)
def heard(transfer_id: str):
    """Local mode: what each lane's party heard, from the simulator."""
    config = _runtime().config
    if not config.local_mode:
        return jsonify({"available": False, "reason": "only in local mode (the simulator plays every party)",
                        "lanes": {}})
    from .inspector_heard import SimulatorEars, heard_by_lane

    ears = SimulatorEars(config.twilio_api_base, config.twilio_account_sid, config.twilio_auth_token)
    return jsonify({"available": True, "lanes": heard_by_lane(ears, _swimlanes(transfer_id))})


bp.add_url_rule("/stream", "stream", auth.login_required(page=False)(inspector_stream.stream))


@bp.post("/transfers/<transfer_id>/cancel")
@auth.action
def cancel(transfer_id: str):
    """Cancel a transfer in flight (as POST /api/transfers/{id}/cancel does); answers its swimlanes."""
    check_transfer_id(transfer_id)
    cancel_transfer(transfer_id, detail="cancelled from the Live Inspector")
    auth.audit("transfer-cancel", auth.current_label(), transfer_id=transfer_id, via="inspector")
    return jsonify(_swimlanes(transfer_id))
