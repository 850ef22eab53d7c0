"""Answering machine detection: the MachineDetection* options, the verdict for a persona, sync and async runs.

From Twilio's API description (Calls create): MachineDetection is Enable or DetectMessageEnd and is
ignored when SendDigits is given; MachineDetectionTimeout is in seconds (default 30; once it passes,
AnsweredBy is `unknown`); the speech/silence thresholds are milliseconds with documented ranges.
Without AsyncAmd=true detection blocks the call: the Url is requested only once it is done, with
AnsweredBy and MachineDetectionDuration (milliseconds).
"""

from simulator.core import SimError
from simulator.delivery import send_callback
from simulator.parties import ANSWERED_BY

MODES = ("Enable", "DetectMessageEnd")
DEFAULT_TIMEOUT = 30
# "Possible Values" of the millisecond tuning parameters, as the API description states them.
RANGES = {
    "MachineDetectionSpeechThreshold": (1000, 6000),
    "MachineDetectionSpeechEndThreshold": (500, 5000),
    "MachineDetectionSilenceTimeout": (2000, 10000),
}


def _int(name, value, strict, minimum=None, maximum=None, default=None):
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        if strict:
            raise SimError(20001, f"Invalid integer '{value}' for parameter '{name}'", 400) from None
        return default
    if strict and ((minimum is not None and number < minimum) or (maximum is not None and number > maximum)):
        bounds = f"{minimum}-{maximum}" if maximum is not None else f">= {minimum}"
        raise SimError(20001, f"Invalid value '{value}' for parameter '{name}' (possible values: {bounds})", 400)
    return number


def rest_options(params, *, strict, asynchronous, callback, callback_method):
    """AMD options from a REST request's MachineDetection* parameters ({} when there is none)."""
    mode = params.get("MachineDetection")
    if not mode:
        return {}
    if mode not in MODES and strict:
        raise SimError(20001, f"Invalid value '{mode}' for parameter 'MachineDetection'", 400)
    for name, (low, high) in RANGES.items():
        _int(name, params.get(name), strict, low, high)
    # The API description gives no range for the timeout, only its unit and default.
    timeout = _int("MachineDetectionTimeout", params.get("MachineDetectionTimeout"), strict, 1,
                   default=DEFAULT_TIMEOUT)
    return {"mode": mode, "async": asynchronous, "timeout": max(1, timeout), "callback": callback,
            "callback_method": callback_method}


def twiml_options(noun, absolute):
    """AMD options from <Number>/<Sip machineDetection=…> (always asynchronous, as Twilio runs it on a leg)."""
    mode = noun.get("machineDetection")
    if not mode:
        return {}
    timeout = _int("machineDetectionTimeout", noun.get("machineDetectionTimeout"), False, default=DEFAULT_TIMEOUT)
    return {"mode": mode, "async": True, "timeout": max(1, timeout),
            "callback": absolute(noun.get("amdStatusCallback")), "callback_method": noun.get("amdStatusCallbackMethod")}


def verdict(persona, mode, settings, timeout=DEFAULT_TIMEOUT):
    """(AnsweredBy, seconds detection takes) for the party that answered."""
    kind = persona.kind if persona else "human"
    seconds = settings.amd_seconds
    if kind == "voicemail":
        # DetectMessageEnd waits for the beep after the greeting; Enable reports as soon as it decides.
        if mode == "DetectMessageEnd":
            answered_by, seconds = "machine_end_beep", persona.greeting_seconds
        else:
            answered_by = "machine_start"
    elif kind == "ivr":
        answered_by = "machine_start"
    elif kind == "fax":
        answered_by = "fax"
    else:
        answered_by = "human"
    if persona is not None and persona.detection_seconds is not None:
        seconds = persona.detection_seconds
    if persona is not None and persona.detected_as:
        answered_by = persona.detected_as
    if timeout is not None and seconds > timeout:
        answered_by, seconds = "unknown", float(timeout)
    return answered_by, float(seconds)


def detect(runner):
    """Run the call's machine detection: block it (sync, the party hears silence) or report later (async)."""
    amd = runner.amd
    mode = amd.get("mode")
    if not mode:
        return
    sim, call = runner.sim, runner.call
    answered_by, seconds = verdict(call.persona, mode, sim.settings, amd.get("timeout", DEFAULT_TIMEOUT))
    if amd.get("async"):
        def report():
            if call.ended or call.hangup_reason:
                return
            with call.cv:
                call.answered_by = answered_by
            sim.event(call, "amd", answered_by=answered_by, seconds=seconds, mode=mode, asynchronous=True)
            _callback(runner, answered_by, seconds)

        sim.scheduler.after(seconds, report)
        return
    runner.set_activity("detecting-machine")
    runner.listen("silence", seconds, detection=mode)
    with call.cv:
        call.answered_by = answered_by
        call.amd_duration_ms = int(round(seconds * 1000))
    sim.event(call, "amd", answered_by=answered_by, seconds=seconds, mode=mode, asynchronous=False)
    # Synchronous detection reports through the Url request itself; AsyncAmdStatusCallback is for AsyncAmd.


def _callback(runner, answered_by, seconds):
    """Send the AMD result to its callback URL, if any (a status callback: delay, jitter and faults apply)."""
    url = runner.amd.get("callback")
    if not url:
        return
    call = runner.call
    params = {"AccountSid": call.account_sid, "CallSid": call.sid, "AnsweredBy": answered_by,
              "MachineDetectionDuration": str(int(round(seconds * 1000)))}
    send_callback(runner.sim, call.sid, url, params, method=runner.amd.get("callback_method") or "POST",
                  calls=[call], owner=call, event_type="amd-callback", record_errors=False)


__all__ = ["ANSWERED_BY", "MODES", "detect", "rest_options", "twiml_options", "verdict"]
