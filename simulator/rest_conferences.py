"""REST handlers for Conferences, Participants and Messages (routed by simulator.rest)."""

from simulator import amd
from simulator import messages
from simulator import conference as conferences
from simulator.core import SimError
from simulator.model import API_VERSION, Message, Participant
from simulator.parties import is_dialable
from simulator.restutil import events, filters, page_of


# ----- conferences -------------------------------------------------------------------------------

def _conference(sim, sid):
    conf = sim.conferences.get(sid)
    if conf is None:
        raise SimError.not_found(f"/{API_VERSION}/Accounts/{sim.account_sid}/Conferences/{sid}.json")
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
    return page_of(confs, p, "conferences", path, filters(p, ("FriendlyName", "Status"))), 200


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
    detection = amd.rest_options(p, strict=sim.settings.strict, asynchronous=True,
                                 callback=p.get("AmdStatusCallback"), callback_method=p.get("AmdStatusCallbackMethod"))
    key = args["ConferenceSid"]
    conf = sim.find_conference(key, create=not (key.startswith("CF") and len(key) == 34))
    if conf.status == "completed":
        raise SimError(20404, f"Conference {key} is completed", 404)
    with sim.lock:
        conferences.configure_callbacks(conf, p.get("ConferenceStatusCallback"),
                                        p.get("ConferenceStatusCallbackMethod"),
                                        " ".join(events(p.get("ConferenceStatusCallbackEvent", ""))))
    call = sim.new_call(from_=from_, to=to, direction="outbound-api", sip=to.lower().startswith("sip:"))
    call.context = sim.context_of(from_)
    call.persona = sim.persona_for(to, call.context)
    call.status_callback = p.get("StatusCallback")
    call.status_callback_method = p.get("StatusCallbackMethod", "POST")
    call.status_callback_events = events(p.get("StatusCallbackEvent"))
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
    sim.event(call, "created", params=p, conference=conf.friendly_name)
    sim.start(call, "participant", ring_timeout=int(p.get("Timeout", 60)), amd=detection, join=(conf, participant))
    participant.queue_time = call.queue_time
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
    return page_of(parts, p, "participants", path, filters(p, ("Muted", "Hold", "Coaching"))), 200


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
    persona = sim.persona_for(to, (p.get("From") or "",))
    refused = messages.refusal(persona, to)
    if refused:
        raise SimError(*refused, 400)
    message = Message(account_sid=sim.account_sid, to=to, from_=p.get("From"), body=p.get("Body"),
                      media_urls=media, messaging_service_sid=p.get("MessagingServiceSid"))
    message.status_callback = p.get("StatusCallback")
    sim.add_message(message, persona)
    return message.to_json(), 201


def list_messages(sim, args, p, items):
    """messages.list, newest first, filtered by To/From."""
    with sim.lock:
        msgs = list(sim.messages.values())[::-1]
    for name, attr in (("To", "to"), ("From", "from_")):
        if name in p:
            msgs = [m for m in msgs if getattr(m, attr) == p[name]]
    path = f"/{API_VERSION}/Accounts/{sim.account_sid}/Messages.json"
    return page_of(msgs, p, "messages", path, filters(p, ("To", "From"))), 200


def _message(sim, sid):
    message = sim.messages.get(sid)
    if message is None:
        raise SimError.not_found(f"/{API_VERSION}/Accounts/{sim.account_sid}/Messages/{sid}.json")
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
