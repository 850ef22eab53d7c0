"""The Inspector's analytics page (/inspector/analytics) and its JSON, behind the Inspector's login.

The page is the Inspector's base template and stylesheet plus our own charts module
(static/inspector/analytics.js, inline SVG); its JSON is GET /api/analytics's, same query, same
schema, authenticated by the session cookie instead of the bearer token.
"""
from __future__ import annotations

from flask import Blueprint, render_template

from . import inspector
from .analytics import report_response
from .inspector_auth import login_required

bp = Blueprint("inspector_analytics", __name__, url_prefix="/inspector", template_folder="templates")
# The Inspector's own headers (CSP: nothing from elsewhere, no inline script) and page context.
bp.after_request(inspector._headers)
bp.context_processor(inspector._page_context)

WINDOWS = (("24h", "24 h"), ("7d", "7 d"), ("30d", "30 d"))


@bp.get("/analytics")
@login_required(page=True)
def page():
    """Charts of the outcome mix, timings, rates, hour of day and fallback depth over a window."""
    return render_template("inspector/analytics.html", windows=WINDOWS)


@bp.get("/analytics.json")
@login_required(page=False)
def data():
    """The page's figures: GET /api/analytics's answer (since, until, tz, group_by)."""
    return report_response()
