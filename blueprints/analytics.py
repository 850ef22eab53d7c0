"""GET /api/analytics: attempts, outcome mix, timings and rates per destination, rule, mode and hour of day.

The figures come from the hourly aggregates the transition Lua writes (handoff/analytics/ reads
them); the Inspector's analytics page (blueprints/inspector_analytics.py) serves the same JSON.
"""
from __future__ import annotations

from datetime import timezone

from flask import Blueprint, current_app, jsonify, request
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from handoff.analytics import ESTIMATE_NOTE, GROUPS, MAX_WINDOW, Analytics, Window, WindowError, time_zones

from .openapi import doc
from .security import bearer_token

bp = Blueprint("analytics", __name__, url_prefix="/api")


def analytics() -> Analytics:
    """This process's reader (it keeps the sums of closed hours between requests)."""
    found = current_app.extensions.get("analytics")
    if found is None:
        runtime = current_app.extensions["handoff"]
        found = current_app.extensions.setdefault(
            "analytics", Analytics(runtime.redis, runtime.store.keys, retention_days=runtime.config.analytics_days))
    return found


def _zone(value: str) -> bool:
    if value != "UTC" and value not in time_zones():
        raise ValidationError("must be an IANA time zone, such as UTC or Europe/Paris")
    return True


class GroupBy(fields.String):
    """A comma-separated subset of destination, rule, mode, hour."""

    def _deserialize(self, value, attr, data, **kwargs):
        names = [n.strip() for n in super()._deserialize(value, attr, data, **kwargs).split(",") if n.strip()]
        unknown = [n for n in names if n not in GROUPS]
        if unknown:
            raise ValidationError(f"unknown group {unknown[0]!r}: choose from {', '.join(GROUPS)}")
        return tuple(dict.fromkeys(names))


class AnalyticsQuery(Schema):
    """The window (UTC hours), the time zone of the hour-of-day grouping, and which groupings to return."""

    class Meta:
        unknown = RAISE

    since = fields.AwareDateTime(default_timezone=timezone.utc, load_default=None, metadata={
        "description": "ISO 8601 start (UTC when no offset is given). Default: 7 days before `until`. "
                       f"A window is at most {MAX_WINDOW.days} days."})
    until = fields.AwareDateTime(default_timezone=timezone.utc, load_default=None, metadata={
        "description": "ISO 8601 end (exclusive). Default: now."})
    tz = fields.String(load_default="UTC", validate=[validate.Length(max=64), _zone], metadata={
        "description": "IANA time zone of the hour-of-day grouping (the buckets are UTC hours)."})
    group_by = GroupBy(load_default=GROUPS, metadata={
        "default": ",".join(GROUPS),
        "description": f"Comma-separated groupings to return, of {', '.join(GROUPS)} (default: all)."})

    @validates_schema
    def _window(self, data, **kwargs):
        try:
            Window.make(data.get("since"), data.get("until"), data.get("tz"))
        except WindowError as exc:
            raise ValidationError(str(exc), field_name=exc.field) from None

    @post_load
    def _make(self, data, **kwargs):
        return {"window": Window.make(data["since"], data["until"], data["tz"]), "group_by": data["group_by"]}


# -- the answer -------------------------------------------------------------------------------------

class AnalyticsTiming(Schema):
    """Seconds; p50/p90 are estimates from histogram bins (see `estimates`)."""

    n = fields.Integer(required=True, metadata={"description": "How many values were observed."})
    mean = fields.Float(allow_none=True, required=True)
    p50 = fields.Float(allow_none=True, required=True, metadata={"description": "Bucket estimate."})
    p90 = fields.Float(allow_none=True, required=True, metadata={"description": "Bucket estimate."})


class AnalyticsRates(Schema):
    """Per attempt (accept, decline, voicemail, no_answer) and per transfer (success); null without any."""

    accept = fields.Float(allow_none=True, required=True)
    decline = fields.Float(allow_none=True, required=True)
    voicemail = fields.Float(allow_none=True, required=True)
    no_answer = fields.Float(allow_none=True, required=True)
    success = fields.Float(allow_none=True, required=True)


class AnalyticsHangups(Schema):
    count = fields.Integer(required=True)
    rate = fields.Float(allow_none=True, required=True,
                        metadata={"description": "Of the callers who were put on hold."})


class AnalyticsDepth(Schema):
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                               metadata={"description": "Attempts dialed -> transfers."})
    mean = fields.Float(allow_none=True, required=True)


class AnalyticsFigures(Schema):
    """One group's figures. Per-transfer figures count at the outcome, under the final attempt's
    destination; per-attempt figures count at each attempt's end, under that attempt's destination."""

    key = fields.String(metadata={"description": "The group's value (destination, rule, mode, or local hour 0-23)."})
    transfers = fields.Integer(required=True)
    outcomes = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    attempts = fields.Integer(required=True)
    results = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                          metadata={"description": "How attempts ended: accepted, declined, voicemail, no-answer, ..."})
    rates = fields.Nested(AnalyticsRates, required=True)
    time_to_answer = fields.Nested(AnalyticsTiming, required=True)
    time_to_accept = fields.Nested(AnalyticsTiming, required=True)
    hold = fields.Nested(AnalyticsTiming, required=True)
    hangup_on_hold = fields.Nested(AnalyticsHangups, required=True)
    depth = fields.Nested(AnalyticsDepth, required=True)


class AnalyticsPoint(Schema):
    hour = fields.String(required=True, metadata={"description": "Start of the UTC hour (ISO 8601)."})
    transfers = fields.Integer(required=True)
    attempts = fields.Integer(required=True)
    outcomes = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    results = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    hangup_on_hold = fields.Integer(required=True)


class AnalyticsWindow(Schema):
    since = fields.String(required=True)
    until = fields.String(required=True)
    tz = fields.String(required=True)
    first_hour = fields.String(allow_none=True, required=True)
    hours = fields.Integer(required=True, metadata={"description": "UTC hour buckets read."})


class AnalyticsReport(Schema):
    """Transfer analytics over a window."""

    window = fields.Nested(AnalyticsWindow, required=True)
    estimates = fields.String(required=True, metadata={"description": ESTIMATE_NOTE})
    bounds = fields.List(fields.Float(), required=True,
                         metadata={"description": "The histogram bins' upper bounds seen (s)."})
    overall = fields.Nested(AnalyticsFigures, required=True)
    by_destination = fields.List(fields.Nested(AnalyticsFigures))
    by_rule = fields.List(fields.Nested(AnalyticsFigures))
    by_mode = fields.List(fields.Nested(AnalyticsFigures))
    by_hour_of_day = fields.List(fields.Nested(AnalyticsFigures),
                                 metadata={"description": "24 rows, local hours 0-23 in `tz`."})
    series = fields.List(fields.Nested(AnalyticsPoint), required=True,
                         metadata={"description": "One point per UTC hour of the window."})


_query = AnalyticsQuery()
_report = AnalyticsReport()


def report_response():
    """Parse the query string (422 naming the field), read, and answer the report as JSON."""
    query = _query.load(request.args.to_dict(flat=True))
    return jsonify(_report.dump(analytics().report(query["window"], query["group_by"])))


@bp.get("/analytics")
@bearer_token
@doc(query=AnalyticsQuery, response=AnalyticsReport, tags=["analytics"])
def get_analytics():
    """Attempts, outcome mix, timings and rates per destination, rule, mode and hour of day.

    Read from hourly aggregates written with each outcome, so it costs the same after 100,000
    transfers. Times to answer and to accept and hold times are in seconds; their p50/p90 are
    bucket estimates (linear interpolation inside the histogram bin that holds the rank), means are
    exact. Rates of decline, voicemail and no answer are per attempt; per-transfer figures are counted
    under the final attempt's destination."""
    return report_response()
