"""A running Handoff in local mode and its Twilio simulator, as the runner talks to them (HTTP only)."""
from __future__ import annotations

import threading
from typing import Any, Mapping

import requests


NEEDED = ("PUBLIC_BASE_URL", "SIM_URL", "API_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")


class EndpointError(RuntimeError):
    """The service or the simulator answered something the runner cannot go on with (one line)."""


class Endpoint:
    """The service's /api (bearer token) and the simulator's /sim control API (Basic auth)."""

    def __init__(self, env: Mapping[str, str], *, origin: str):
        from handoff.config import _token_labels   # the one reading of API_TOKEN (labels, several tokens)

        missing = [name for name in NEEDED if not env.get(name)]
        if missing:
            raise EndpointError(f"{origin}: its environment lacks {', '.join(missing)}")
        self.env = dict(env)
        self.origin = origin          # "make run at http://..." or "its own stack (log: ...)"
        self.base_url = env["PUBLIC_BASE_URL"].rstrip("/")
        self.sim_url = env["SIM_URL"].rstrip("/")
        self.api_token = next(iter(_token_labels(env["API_TOKEN"])))
        self.sim_auth = (env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])
        self._local = threading.local()   # one HTTP session per thread: requests.Session is not thread-safe

    @property
    def _http(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def api(self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = (200,)) -> Any:
        """JSON from /api<path>; EndpointError naming the answer when its status is not expected."""
        return self._call(method, f"{self.base_url}/api{path}", body, expect,
                          headers={"Authorization": f"Bearer {self.api_token}"})

    def api_answer(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, JSON) from /api<path>, whatever the status."""
        response = self._request(method, f"{self.base_url}/api{path}", body,
                                 headers={"Authorization": f"Bearer {self.api_token}"})
        return response.status_code, _json(response)

    def sim(self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = (200, 201)) -> Any:
        """JSON from the simulator's /sim<path>."""
        return self._call(method, f"{self.sim_url}/sim{path}", body, expect, auth=self.sim_auth)

    def _request(self, method: str, url: str, body: Any, **kwargs) -> requests.Response:
        try:
            return self._http.request(method, url, json=body, timeout=15, **kwargs)
        except requests.RequestException as exc:
            raise EndpointError(f"{method} {url}: {type(exc).__name__}: {exc}") from None

    def _call(self, method: str, url: str, body: Any, expect: tuple[int, ...], **kwargs) -> Any:
        response = self._request(method, url, body, **kwargs)
        data = _json(response)
        if response.status_code not in expect:
            raise EndpointError(f"{method} {url} answered {response.status_code}: {_brief(data, response.text)}")
        return data


def _json(response: requests.Response) -> Any:
    try:
        return response.json() if response.content else None
    except ValueError:
        return None


def _brief(data: Any, text: str) -> str:
    """The error's own words: the API's {"error": {"message"}} or the simulator's {"message"}."""
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if data.get("message"):
            return str(data["message"])
        if data.get("result"):
            return str(data["result"])
    return " ".join(text.split())[:300]
