"""The aggregates' field format and what is computed from it: bins, percentile estimates, figures.

A field is `<dim>=<value>|<metric>` (lua/analytics.lua writes them). Histogram bins are
non-cumulative, named by their upper bound: a value counts in the smallest bound >= it. The
bounds are read from the field names (`parse_bound`), never listed here, so the writer alone
defines them; a bin's lower edge is the bound before it among every bound seen.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Iterable, Mapping

from ..state import AttemptResult

HISTOGRAMS = {"time_to_answer": "answer", "time_to_accept": "accept", "hold": "hold"}
RESULTS = tuple(r.value for r in AttemptResult)     # always reported (0 when none); others when seen
ESTIMATE_NOTE = ("p50/p90 are estimates from histogram bins (linear interpolation inside the bin that "
                 "holds the rank); a rank in the open top bin reports that bin's lower bound.")
_DIMS = ("all", "dest", "rule", "mode")


def parse_bound(text: str) -> float:
    """A histogram bin's upper bound as written in a field name ('0.5', '13', '+Inf')."""
    value = math.inf if text.lower() in ("+inf", "inf") else float(text)
    if not value >= 0:      # also refuses NaN, which would break the bins' order
        raise ValueError(f"not a bin bound: {text!r}")
    return value


def parse_field(name: str) -> tuple[str, str, str] | None:
    """`<dim>=<value>|<metric>` -> (dim, value, metric); None for fields of another shape."""
    head, bar, metric = name.rpartition("|")
    dim, eq, value = head.partition("=")
    if not bar or not eq or dim not in _DIMS or not metric:
        return None
    return dim, value, metric


def estimate(bins: Mapping[float, float], q: float, ladder: Iterable[float]) -> float | None:
    """The q-quantile (0..1) of values counted in non-cumulative `bins` (upper bound -> count).

    A bin's lower edge is the bound before it in `ladder` (every bound seen), 0 for the first."""
    total = sum(bins.values())
    if total <= 0:
        return None
    rank, seen, lower = q * total, 0.0, 0.0
    for bound in sorted(set(ladder) | set(bins)):
        count = bins.get(bound, 0)
        if count > 0 and seen + count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * max(rank - seen, 0.0) / count
        seen += count
        lower = bound
    return lower if math.isfinite(lower) else None


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def figures(metrics: Mapping[str, float], ladder: Iterable[float]) -> dict:
    """One group's figures from its summed metrics (the flat `metric -> value` of the hashes)."""
    transfers, attempts = int(metrics.get("transfers", 0)), int(metrics.get("attempts", 0))
    outcomes, results, depth = {}, {name: 0 for name in RESULTS}, {}
    bins = {name: {} for name in HISTOGRAMS.values()}
    for metric, value in metrics.items():
        kind, colon, arg = metric.partition(":")
        if not colon:
            continue
        if kind == "outcome":
            outcomes[arg] = int(value)
        elif kind == "result":
            results[arg] = int(value)
        elif kind == "depth" and arg.isdigit():
            depth[int(arg)] = int(value)
        elif kind.endswith("_le") and kind[:-3] in bins:
            bins[kind[:-3]][parse_bound(arg)] = value
    ladder = list(ladder)
    times = {}
    for name, prefix in HISTOGRAMS.items():
        n = int(metrics.get(f"{prefix}_n", 0))
        times[name] = {"n": n, "mean": _seconds(metrics.get(f"{prefix}_sum", 0) / n) if n else None,
                       "p50": _seconds(estimate(bins[prefix], 0.5, ladder)),
                       "p90": _seconds(estimate(bins[prefix], 0.9, ladder))}
    hangups, held = int(metrics.get("hangup_on_hold", 0)), times["hold"]["n"]
    depth_n = sum(depth.values())
    return {
        "transfers": transfers,
        "outcomes": dict(sorted(outcomes.items())),
        "attempts": attempts,
        "results": results,
        "rates": {"accept": _rate(results["accepted"], attempts), "decline": _rate(results["declined"], attempts),
                  "voicemail": _rate(results["voicemail"], attempts),
                  "no_answer": _rate(results["no-answer"], attempts),
                  "success": _rate(outcomes.get("transfer-success", 0), transfers)},
        **times,
        # Of the callers who were put on hold, how many hung up before the transfer ended.
        "hangup_on_hold": {"count": hangups, "rate": _rate(hangups, max(held, hangups))},
        "depth": {"distribution": {str(k): v for k, v in sorted(depth.items())},
                  "mean": round(sum(k * v for k, v in depth.items()) / depth_n, 2) if depth_n else None},
    }


def point(hour: datetime, metrics: Mapping[str, float]) -> dict:
    """One hour of the chart series (all=* metrics): volumes and the outcome and result mix."""
    outcomes = {m[8:]: int(v) for m, v in metrics.items() if m.startswith("outcome:")}
    results = {m[7:]: int(v) for m, v in metrics.items() if m.startswith("result:")}
    return {"hour": iso(hour), "transfers": int(metrics.get("transfers", 0)),
            "attempts": int(metrics.get("attempts", 0)), "outcomes": outcomes, "results": results,
            "hangup_on_hold": int(metrics.get("hangup_on_hold", 0))}


def iso(value: datetime) -> str:
    """ISO 8601 in UTC with a Z."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
