"""Local mode: what each party of a transfer heard, read from the Twilio simulator (`make run`).

Not a Twilio webhook, so a remote call is allowed here; each is short (HEARD_TIMEOUT) and any
failure makes that lane "unavailable" instead of an error. Reads the simulator's control API at
TWILIO_API_BASE with the account's Basic auth (simulator/README.md: /sim/calls/<sid>/timeline).
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

import requests

HEARD_TIMEOUT = (0.5, 1.5)     # connect, read: seconds
MAX_ITEMS = 60                 # per lane: a long hold loop is summarised, not listed entry by entry


def _epoch(at: str | None) -> float | None:
    try:
        return datetime.fromisoformat((at or "").replace("Z", "+00:00")).timestamp() if at else None
    except ValueError:
        return None


_WORDS = {"conference": "in the conference", "beep": "a beep (someone joined)", "silence": None,
          "music": None, "play": None}


def _entry(item: Mapping, start: float | None) -> dict:
    when = item.get("time")
    kind = item.get("kind") or "sound"
    text = item.get("text") or (f"connected with {item['with']}" if kind == "bridged" and item.get("with")
                                else _WORDS.get(kind))
    return {"kind": kind, "text": text, "url": item.get("url") or None,
            "seconds": item.get("seconds"),
            "t": round(when - start, 3) if isinstance(when, (int, float)) and start is not None else None}


def _squash(items: list[dict]) -> list[dict]:
    """Consecutive identical sounds (hold music loops) as one entry with a count."""
    out: list[dict] = []
    for item in items:
        last = out[-1] if out else None
        if last and (last["kind"], last["text"], last["url"]) == (item["kind"], item["text"], item["url"]):
            last["repeat"] = last.get("repeat", 1) + 1
            last["seconds"] = round((last["seconds"] or 0) + (item["seconds"] or 0), 3)
            continue
        out.append(dict(item))
    return out[-MAX_ITEMS:]


class SimulatorEars:
    """Reads what calls heard from the simulator."""

    def __init__(self, base_url: str, account_sid: str, auth_token: str):
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.auth = (account_sid, auth_token)

    def _get(self, path: str):
        response = self.http.get(f"{self.base}/sim{path}", timeout=HEARD_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def heard(self, call_sid: str, *, since: float | None, start: float | None) -> dict:
        """{"available": True, "items": [...]} for one call, only what it heard at or after `since`."""
        try:
            timeline = self._get(f"/calls/{call_sid}/timeline")
            heard = self._get(f"/calls/{call_sid}/heard")
        except (requests.RequestException, ValueError) as exc:
            return {"available": False, "reason": f"the simulator did not answer ({type(exc).__name__})"}
        # The timeline says when each sound started; the heard list, how long it lasted (it grows
        # while it plays). Both record the same sounds in the same order.
        times = [e.get("time") for e in timeline if isinstance(e, dict) and e.get("type") == "heard"]
        entries = [dict(item, time=times[n] if n < len(times) else None)
                   for n, item in enumerate(heard) if isinstance(item, dict)]
        items = [_entry(e, start) for e in entries
                 if since is None or not isinstance(e.get("time"), (int, float)) or e["time"] >= since]
        return {"available": True, "items": _squash(items)}

    def agent(self, call_sid: str) -> dict:
        """What the caller's AI agent was told (its sessions and the parameters it got back)."""
        try:
            call = self._get(f"/calls/{call_sid}")
        except (requests.RequestException, ValueError) as exc:
            return {"available": False, "reason": f"the simulator did not answer ({type(exc).__name__})"}
        agent = call.get("agent") or {}
        told = [{"kind": "parameter", "text": f"{k} = {v}", "url": None, "seconds": None, "t": None}
                for k, v in sorted((agent.get("parameters") or {}).items())]
        sessions = agent.get("sessions")
        if sessions is not None:
            told.insert(0, {"kind": "sessions", "text": f"{sessions} agent session(s) on this call", "url": None,
                            "seconds": None, "t": None})
        return {"available": True, "items": told}


def heard_by_lane(ears: SimulatorEars, swimlanes: Mapping) -> dict:
    """Lane id -> what that party heard during the transfer."""
    transfer = swimlanes["transfer"]
    start = _epoch(transfer.get("created_at"))
    since = start - 0.5 if start is not None else None     # the hold announcement may start at once
    result: dict[str, dict] = {}
    for lane in swimlanes["lanes"]:
        if lane["kind"] == "caller" and transfer.get("call_sid"):
            result[lane["id"]] = ears.heard(transfer["call_sid"], since=since, start=start)
        elif lane["kind"] == "agent" and transfer.get("call_sid"):
            result[lane["id"]] = ears.agent(transfer["call_sid"])
        elif lane.get("leg"):
            result[lane["id"]] = ears.heard(lane["leg"], since=None, start=start)
        else:
            result[lane["id"]] = {"available": False, "reason": "no call was placed for this lane"}
    return result
