"""Delivering webhooks as Twilio's network does: callback delay and jitter, and the webhook fault rules.

Status callbacks (call, conference, AMD) go through send_callback: each waits callback_delay plus a
random 0..callback_jitter, then joins its call's (or conference's) ordered queue, so with jitter they may
arrive out of order. A matching fault rule drops it, delays it outside that queue (later callbacks are not
held behind it), or sends it once more. Document requests are faulted by CallRunner.request_document;
requests whose answer Twilio ignores (a Dial action after the caller hung up, a successful Refer's
action) by request_ignoring_answer.
"""

import itertools

from simulator.faults import WEBHOOK_EVENTS

_copies = itertools.count(1)


def _later(sim, seconds, key, fn):
    """Queue fn behind earlier work for `key`, after `seconds`."""
    if seconds <= 0:
        sim.sender.submit(key, fn)
    else:
        sim.scheduler.after(seconds, lambda: sim.sender.submit(key, fn))


def _unordered_key(key):
    return f"{key}/fault-{next(_copies)}"


def _sender(sim, url, params, method, owner, event_type, record_errors=True):
    def send(fault=None):
        result = sim.webhooks.request(url, params, method=method)
        event = result.to_event()
        if fault:
            event["fault"] = fault
        if owner is not None:
            sim.event(owner, event_type, **event)
        if record_errors and not result.ok:
            sim.record_error(owner, result.error_code, result.error_message, url)
        return result

    return send


def callback_delay(sim):
    """Seconds before the next status callback goes out: callback_delay + uniform(0, callback_jitter)."""
    settings = sim.settings
    delay = max(0.0, float(settings.callback_delay or 0.0))
    jitter = float(settings.callback_jitter or 0.0)
    if jitter > 0:
        delay += sim.random.uniform(0.0, jitter)
    return delay


def send_callback(sim, key, url, params, *, method="POST", calls=(), owner=None, event_type="status-callback",
                  record_errors=True):
    """Send a status callback in the background.

    key orders the callbacks of one call or conference; calls are the calls it is about (fault rules match
    their To/From); owner is the call whose timeline records the request (None: not recorded).
    """
    delay = callback_delay(sim)
    rule = sim.faults.match_webhook(url, kind="callback", params=params, calls=calls)
    send = _sender(sim, url, params, method, owner, event_type, record_errors)
    if rule is None:
        _later(sim, delay, key, send)
        return
    action, seconds = rule["action"], rule["seconds"]
    if owner is not None:
        sim.event(owner, WEBHOOK_EVENTS[action], url=url, rule=rule["id"], seconds=seconds, params=dict(params))
    if action == "delay":
        _later(sim, delay + seconds, _unordered_key(key), lambda: send("delayed"))
    elif action == "duplicate":
        _later(sim, delay, key, send)
        _later(sim, delay + seconds, _unordered_key(key), lambda: send("duplicate"))


def send_copy(sim, call, url, params, method, seconds):
    """The same document request once more after `seconds`; its answer is ignored."""
    send = _sender(sim, url, params, method, call, "webhook", record_errors=False)
    _later(sim, seconds, _unordered_key(call.sid), lambda: send("duplicate"))


def request_ignoring_answer(sim, call, url, params, method="POST"):
    """A document request whose answer Twilio ignores, subject to the fault rules."""
    rule = sim.faults.match_webhook(url, kind="document", params=params, calls=[call])
    send = _sender(sim, url, params, method, call, "webhook", record_errors=False)
    if rule is None:
        send()
        return
    sim.event(call, WEBHOOK_EVENTS[rule["action"]], url=url, rule=rule["id"], seconds=rule["seconds"])
    if rule["action"] == "delay":
        _later(sim, rule["seconds"], _unordered_key(call.sid), lambda: send("delayed"))
    elif rule["action"] == "duplicate":
        send()
        send_copy(sim, call, url, params, method, rule["seconds"])
