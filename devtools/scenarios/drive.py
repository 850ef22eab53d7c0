"""One scenario, end to end: its parties, its call, its transfer, waiting for the outcome, the checks."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable
from urllib.parse import urlencode

from simulator.model import FINAL_STATUSES
from simulator.testing import handoff_number

from .endpoint import Endpoint, EndpointError
from .expect import check
from .files import Scenario
from .observe import Observation, Refusal, observe
from .parties import addresses, personas

REACH_AGENT_SECONDS = 15     # the caller must be with the agent by then (or by the scenario's timeout)
START_SECONDS = 15           # HandoffData: the service must have started (or refused) a transfer by then
POLL = 0.1
REQUEST_KEYS = ("to", "mode", "reason", "summary", "message", "variables", "refer", "final")


class ScenarioAborted(Exception):
    """The scenario could not be played to its end (one line saying where it stopped)."""


@dataclass
class Result:
    """How one scenario went."""

    scenario: Scenario
    status: str                       # pass | fail | error
    seconds: float
    failures: list[str] = field(default_factory=list)
    error: str | None = None
    seen: Observation | None = None
    caller: str | None = None
    agent_number: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def wait_until(predicate: Callable, timeout: float, cancel: threading.Event | None = None):
    """predicate()'s first truthy value, polling; None when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value or None
        if cancel is None:
            time.sleep(POLL)
        elif cancel.wait(POLL):
            raise ScenarioAborted("interrupted")


def run(scenario: Scenario, endpoint: Endpoint, *, caller: str, agent_number: str,
        cancel: threading.Event | None = None) -> Result:
    """Play the scenario on its own numbers and check its expectations (`cancel` stops it early)."""
    began = time.monotonic()
    result = Result(scenario=scenario, status="error", seconds=0.0, caller=caller, agent_number=agent_number)
    scope = [agent_number, caller]
    caller_sid = None
    try:
        known = addresses(scenario, caller, agent_number)
        _register(endpoint, agent_number)
        for entry in personas(scenario, known, caller, scope):
            endpoint.sim("POST", "/personas", entry)
        sip = "sip" in scenario.caller
        caller_sid = endpoint.sim("POST", "/calls", {"from": caller, "to": agent_number, "sip": sip})["sid"]
        reach = min(REACH_AGENT_SECONDS, scenario.timeout)
        call = wait_until(lambda: _with_agent(endpoint, caller_sid), reach, cancel)
        if call is None:
            state = endpoint.sim("GET", f"/calls/{caller_sid}")
            raise ScenarioAborted(f"the caller never reached the agent within {reach:g} s (activity "
                                  f"{state.get('activity')}, status {state.get('status')})"
                                  f"{_last_error(endpoint, caller_sid)}")
        agent_url = (call.get("agent") or {}).get("url")
        if scenario.caller.get("variables"):
            endpoint.api("PUT", f"/calls/{caller_sid}/variables", {"variables": scenario.caller["variables"]})
        for n, earlier in enumerate(scenario.before):
            failure = _earlier(endpoint, replace(scenario, start=earlier["start"]), earlier.get("outcome"),
                               caller_sid, cancel)
            if failure:
                result.failures.append(f"before[{n}]: {failure}")
            call = endpoint.sim("GET", f"/calls/{caller_sid}")
        started = _start(endpoint, scenario, caller_sid, call, cancel)
        if isinstance(started, Refusal):
            # Nothing to wait for: the caller never left the agent (or is back with it already).
            transfer_id, refusal, settled = None, started, True
        else:
            transfer_id, refusal = started, None
            settled = wait_until(lambda: _settled(endpoint, transfer_id, caller_sid), scenario.timeout,
                                 cancel) is not None
        seen = observe(endpoint, transfer_id=transfer_id, caller_sid=caller_sid, caller_address=caller,
                       agent_number=agent_number, names=known, agent_url=agent_url, settled=settled,
                       refusal=refusal)
        result.seen = seen
        result.failures += check(scenario.expect, seen)
        if not settled:
            result.failures.append(f"not settled within {scenario.timeout:g} s: the transfer is "
                                   f"{(seen.transfer or {}).get('status')}, the caller {seen.caller_end()[1]}")
        result.status = "fail" if result.failures else "pass"
    except (ScenarioAborted, EndpointError) as exc:
        result.error = str(exc)
    except Exception as exc:    # a surprise in one scenario must not stop the others: report it as its error
        result.error = f"the runner failed: {type(exc).__name__}: {exc}"
    finally:
        _clean_up(endpoint, caller_sid, agent_number, scope)
        result.seconds = time.monotonic() - began
    return result


def _earlier(endpoint: Endpoint, step: Scenario, outcome: str | None, caller_sid: str,
             cancel: threading.Event | None) -> str | None:
    """Play one of the transfers before the scenario's own (chained transfers on one call): start it, wait
    for its outcome and for the caller to be with an agent again; what went wrong, or None."""
    call = endpoint.sim("GET", f"/calls/{caller_sid}")
    started = _start(endpoint, step, caller_sid, call, cancel)
    if isinstance(started, Refusal):
        return f"the service refused the transfer to {step.start.get('to')}: {started.message}"

    def done():
        transfer = endpoint.api("GET", f"/transfers/{started}")
        state = endpoint.sim("GET", f"/calls/{caller_sid}")
        if state.get("status") in FINAL_STATUSES:
            raise ScenarioAborted(f"the caller's call ended ({state.get('status')}) during the transfer to "
                                  f"{step.start.get('to')}")
        return transfer if transfer.get("outcome") and state.get("activity") == "with-agent" else None

    transfer = wait_until(done, step.timeout, cancel)
    if transfer is None:
        raise ScenarioAborted(f"the transfer to {step.start.get('to')} did not end with the caller back with an "
                              f"agent within {step.timeout:g} s")
    if outcome and transfer["outcome"] != outcome:
        return f"expected {outcome} from the transfer to {step.start.get('to')}, got {transfer['outcome']}"
    return None


def _register(endpoint: Endpoint, number: str) -> None:
    """The scenario's own agent number, answered by the service like make run's +15005550006."""
    endpoint.sim("POST", "/numbers", {"number": number, **handoff_number(endpoint.base_url)})


def _with_agent(endpoint: Endpoint, sid: str) -> dict | None:
    call = endpoint.sim("GET", f"/calls/{sid}")
    if call.get("status") in FINAL_STATUSES:
        raise ScenarioAborted(f"the caller's call ended ({call.get('status')}) before reaching the agent")
    return call if call.get("activity") == "with-agent" else None


def _start(endpoint: Endpoint, scenario: Scenario, caller_sid: str, call: dict,
           cancel: threading.Event | None) -> str | Refusal:
    """Start the transfer the way the scenario says: the transfer's id, or the service's refusal."""
    start = scenario.start
    request = {key: start[key] for key in REQUEST_KEYS if key in start}
    if scenario.clock is not None:
        request["at"] = scenario.clock.isoformat()
    via = start["via"]
    if via == "api":
        status, body = endpoint.api_answer("POST", f"/calls/{caller_sid}/transfers", request)
        if status == 202 and isinstance(body, dict) and body.get("id"):
            return body["id"]
        if _refused(status, body):
            return Refusal(via, str(body["error"].get("message") or ""), status)
        raise ScenarioAborted(f"start: POST /api/calls/{{sid}}/transfers answered {status}: {_message(body)}")
    if via == "tool":
        arguments = {"call_sid": caller_sid, "destination": request.pop("to"), **request}
        status, body = endpoint.api_answer("POST", "/tools/transfer_call", arguments)
        if status == 202 and isinstance(body, dict) and body.get("ok") and body.get("transfer_id"):
            return body["transfer_id"]
        if _refused(status, body):
            return Refusal(via, str(body["error"].get("message") or ""), status, sentence=str(body.get("result") or ""))
        raise ScenarioAborted(f"start: POST /api/tools/transfer_call answered {status}: {_message(body)}")
    sessions = (call.get("agent") or {}).get("sessions") or 0
    earlier = len((endpoint.api("GET", f"/calls/{caller_sid}") or {}).get("transfers") or [])
    endpoint.sim("POST", f"/calls/{caller_sid}/agent/end", {"handoff_data": {"transfer": request}})

    def started():
        transfers = (endpoint.api("GET", f"/calls/{caller_sid}") or {}).get("transfers") or []
        if len(transfers) > earlier:     # a chained call has transfers from before this one
            return transfers[-1]["id"]
        # A refusal: the service connects the caller to the agent again and tells it why.
        state = endpoint.sim("GET", f"/calls/{caller_sid}")
        agent = state.get("agent") or {}
        parameters = agent.get("parameters") or {}
        if state.get("activity") == "with-agent" and (agent.get("sessions") or 0) > sessions \
                and parameters.get("transfer_outcome") == "transfer-refused":
            return Refusal(via, str(parameters.get("transfer_detail") or "(no detail)"))
        if state.get("status") in FINAL_STATUSES:
            raise ScenarioAborted(f"start: the agent ended its session with HandoffData {request}, and the "
                                  f"caller's call ended ({state.get('status')}) before any transfer started"
                                  f"{_last_error(endpoint, caller_sid)}")
        return None

    wait = min(START_SECONDS, scenario.timeout)
    found = wait_until(started, wait, cancel)
    if found is None:
        state = endpoint.sim("GET", f"/calls/{caller_sid}")
        raise ScenarioAborted(f"start: the agent ended its session with HandoffData {request}, but the service "
                              f"neither started a transfer nor refused it within {wait:g} s (the caller: "
                              f"{state.get('activity')})")
    return found


def _refused(status: int, body) -> bool:
    """The service's refusal to start this transfer (422 transfer_refused, 409 chain_limit: the call has had
    TRANSFER_CHAIN_LIMIT transfers), not a request it could not read."""
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and (status, error.get("code")) in ((422, "transfer_refused"), (409, "chain_limit"))


def _last_error(endpoint: Endpoint, sid: str) -> str:
    """`; the simulator logged error 11200: ...` from the call's timeline, when it has one."""
    try:
        timeline = endpoint.sim("GET", f"/calls/{sid}/timeline") or []
    except EndpointError:
        return ""
    error = next((e for e in reversed(timeline) if isinstance(e, dict) and e.get("type") == "error"), None)
    if error is None:
        return ""
    where = f" ({error['url']})" if error.get("url") else ""
    return f"; the simulator logged error {error.get('code')}: {error.get('message')}{where}"


def _message(body) -> str:
    """The service's words: the tool's sentence, else the error's message, and the fields at fault."""
    if isinstance(body, dict):
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        fields = error.get("fields") or {}
        where = f" ({', '.join(fields)})" if fields else ""
        return str(body.get("result") or error.get("message") or body) + where
    return str(body)


def _settled(endpoint: Endpoint, transfer_id: str, caller_sid: str) -> bool:
    """The transfer has its outcome and the caller is where it leaves them (or gone)."""
    caller = endpoint.sim("GET", f"/calls/{caller_sid}")
    transfer = endpoint.api("GET", f"/transfers/{transfer_id}")
    if caller.get("status") in FINAL_STATUSES:
        return transfer.get("outcome") is not None or transfer.get("status") == "completed"
    if transfer.get("outcome") is None:
        return False
    where, activity = transfer.get("caller"), caller.get("activity")
    if where == "bridged":
        return activity in ("bridged", "in-conference", "with-agent")
    if where == "returned":
        return activity == "with-agent" and transfer.get("status") == "completed"
    return False


def _clean_up(endpoint: Endpoint, caller_sid: str | None, agent_number: str, scope: list[str]) -> None:
    """Hang up what is still live and forget the scenario's personas (a shared make run stays clean)."""
    try:
        if caller_sid:
            endpoint.sim("POST", f"/calls/{caller_sid}/hangup")
            for call in endpoint.sim("GET", "/calls") or []:
                if (call.get("parent_call_sid") == caller_sid or call.get("from") == agent_number) \
                        and call.get("status") not in FINAL_STATUSES:
                    endpoint.sim("POST", f"/calls/{call['sid']}/hangup")
        endpoint.sim("DELETE", "/personas?" + urlencode([("scope", number) for number in scope]))
    except Exception:   # noqa: BLE001 - the stack may be going away: nothing left to keep clean, and the
        pass            # scenario's own result (its error, if any) is what the report must show
