"""In-process simulator for pytest, and a small Python client for the /sim control API."""

import contextlib
import time
from urllib.parse import urlencode

import requests

from simulator.core import Simulator
from simulator.server import ServerThread
from simulator.settings import SimSettings
from simulator.spec import Spec

_SPEC_CACHE = {}


def load_spec():
    """The Twilio OAI spec, parsed once per process (None when the file is absent)."""
    if "spec" not in _SPEC_CACHE:
        try:
            _SPEC_CACHE["spec"] = Spec.load()
        except FileNotFoundError:
            _SPEC_CACHE["spec"] = None
    return _SPEC_CACHE["spec"]


def _scope_query(scope):
    if not scope:
        return ""
    numbers = [scope] if isinstance(scope, str) else list(scope)
    return "?" + urlencode([("scope", n) for n in numbers])


def handoff_number(base_url):
    """A number's settings (POST /sim/numbers) that make Handoff at `base_url` answer its calls, as an agent's."""
    return {"voice_url": f"{base_url}/voice/incoming", "voice_fallback_url": f"{base_url}/voice/fallback",
            "status_callback": f"{base_url}/voice/status"}


class SimClientError(Exception):
    """The control API answered with an error."""

    def __init__(self, status, body):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class SimClient:
    """Drives a running simulator through its /sim control API."""

    def __init__(self, url, account_sid, auth_token):
        self.url = url.rstrip("/")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._http = requests.Session()
        self._http.auth = (account_sid, auth_token)
        self.simulator = None  # the in-process Simulator when started by run_simulator

    def _req(self, method, path, body=None):
        resp = self._http.request(method, self.url + "/sim" + path, json=body, timeout=30)
        data = resp.json() if resp.content else None
        if resp.status_code >= 400:
            raise SimClientError(resp.status_code, data)
        return data

    def add_persona(self, persona):
        """Add or replace a persona (personas-file dict)."""
        return self._req("POST", "/personas", persona)

    def personas(self, scope=None):
        """All personas (scope: a number or list of numbers: only the scoped personas naming one)."""
        return self._req("GET", "/personas" + _scope_query(scope))

    def add_personas(self, personas, scope=None):
        """Add several personas, each scoped to `scope` (a number or list of numbers) when given."""
        extra = {} if scope is None else {"scope": [scope] if isinstance(scope, str) else list(scope)}
        return [self.add_persona({**p, **extra}) for p in personas]

    def remove_personas(self, scope):
        """Forget the scoped personas naming one of these numbers; returns how many went."""
        return self._req("DELETE", "/personas" + _scope_query(scope))["removed"]

    def set_number(self, number, voice_url=None, voice_fallback_url=None, status_callback=None, **extra):
        """Configure a number's voice URL, fallback URL and status callback."""
        body = {"number": number, "voice_url": voice_url, "voice_fallback_url": voice_fallback_url,
                "status_callback": status_callback, **extra}
        return self._req("POST", "/numbers", body)

    def place_call(self, from_, to, *, sip=False):
        """An inbound call from `from_` to a configured number; returns its CA SID."""
        return self._req("POST", "/calls", {"from": from_, "to": to, "sip": sip})["sid"]

    def press(self, sid, digits):
        """The party on the call presses digits; True if a Gather (or hangupOnStar) took them."""
        return self._req("POST", f"/calls/{sid}/digits", {"digits": digits})["accepted"]

    def hangup(self, sid):
        """The party on the call hangs up."""
        return self._req("POST", f"/calls/{sid}/hangup")

    def end_agent_session(self, sid, handoff_data=None):
        """End the call's <Connect> session; Connect's action receives HandoffData."""
        return self._req("POST", f"/calls/{sid}/agent/end", {"handoff_data": handoff_data})

    def call(self, sid):
        """The call as a dict (status, activity, agent, conference, bridged_with…)."""
        return self._req("GET", f"/calls/{sid}")

    def calls(self):
        """All calls."""
        return self._req("GET", "/calls")

    def timeline(self, sid):
        """Every event of a call."""
        return self._req("GET", f"/calls/{sid}/timeline")

    def heard(self, sid):
        """What the party on a call heard."""
        return self._req("GET", f"/calls/{sid}/heard")

    def errors(self):
        """Recorded errors."""
        return self._req("GET", "/errors")

    def requests(self):
        """Every REST request the simulator received."""
        return self._req("GET", "/requests")

    def settings(self, **changes):
        """Change settings at run time (no arguments: read them)."""
        if not changes:
            return self._req("GET", "/settings")
        return self._req("POST", "/settings", changes)

    def add_fault(self, **rule):
        """Install a fault rule (see README: webhook drop/delay/duplicate, REST errors); returns it with its id."""
        return self._req("POST", "/faults", rule)["rules"][0]

    def faults(self):
        """{"rules": [...], "hits": [...]}: the installed rules and every time one fired."""
        return self._req("GET", "/faults")

    def clear_faults(self):
        """Remove every fault rule and forget the hits."""
        self._req("DELETE", "/faults")

    def reset(self):
        """Forget calls, conferences, messages, errors, requests and fault rules."""
        return self._req("POST", "/reset")

    def wait_for(self, predicate, timeout=10, interval=0.02, message=None):
        """Poll until predicate() is truthy; AssertionError with the last value and call states on timeout."""
        deadline = time.monotonic() + timeout
        last_exc, value = None, None
        while time.monotonic() < deadline:
            try:
                value = predicate()
                if value:
                    return value
            except (AssertionError, KeyError, IndexError, SimClientError) as exc:
                last_exc = exc
            time.sleep(interval)
        try:
            states = [(c["sid"], c["to"], c["status"], c["activity"]) for c in self.calls()]
        except Exception:
            states = "(unavailable)"
        raise AssertionError(
            f"{message or 'condition'} not met within {timeout}s; last value={value!r}, "
            f"last error={last_exc!r}, calls={states}, errors={self.errors()}"
        )


TEST_SETTINGS = {"speech_seconds_per_char": 0.001, "play_seconds": 0.2, "amd_seconds": 0.05,
                 "ring_seconds_default": 0.05, "webhook_timeout": 5}


@contextlib.contextmanager
def run_simulator(account_sid="AC" + "0" * 32, auth_token="test-token", personas=None, settings=None,
                  numbers=None, host="127.0.0.1", port=0):
    """Start a simulator on a free port in this process; yields a SimClient (with .simulator)."""
    sim_settings = SimSettings().update(settings or {})
    sim = Simulator(account_sid=account_sid, auth_token=auth_token, settings=sim_settings,
                    personas=personas or (), numbers=numbers or (), spec=load_spec())
    server = ServerThread(sim, host, port).start()
    client = SimClient(server.url, account_sid, auth_token)
    client.simulator = sim
    try:
        yield client
    finally:
        server.stop()
