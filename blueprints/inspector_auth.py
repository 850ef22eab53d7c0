"""The Inspector's login: an API token once, then a signed session cookie; a CSRF token on every action.

The session cookie (`handoff_inspector`, path /inspector) is signed with SECRET_KEY. It is HttpOnly,
SameSite=Lax, Secure when the request came over https, and expires after SESSION_LIFETIME (Flask
refuses an older signature, whatever the browser keeps). It holds the token's label (never the
token), a fingerprint of the token (HMAC with the session key: removing a token from API_TOKEN ends
the sessions it opened), and the session's CSRF token.

Without SECRET_KEY, in local mode (HANDOFF_LOCAL, `make run`) the key is derived from the API
tokens: HMAC-SHA256 keyed with "handoff-inspector-session-v1" over the sorted tokens joined by
newlines. Every gunicorn process derives the same key, so a session works whichever process serves
it, and changing API_TOKEN ends every session. Outside local mode the Inspector refuses to log in
until SECRET_KEY is set (the login page says so); nothing crashes.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import wraps

from flask import current_app, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from handoff.audit import record_inspector_action

from .errors import ApiError
from .security import match_token

SESSION_LIFETIME = timedelta(hours=12)
COOKIE_NAME = "handoff_inspector"
COOKIE_PATH = "/inspector"
_DERIVATION_LABEL = b"handoff-inspector-session-v1"


class InspectorSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, Secure exactly when the request itself is https."""

    def get_cookie_secure(self, app) -> bool:
        # save_session runs inside the request: behind Heroku's router ProxyFix has set the scheme.
        return bool(request and request.is_secure) or super().get_cookie_secure(app)

    def open_session(self, app, request):
        # Without the cookie (every request outside /inspector, Twilio's webhooks first) the session is
        # empty: skip building the signing serializer, which Flask does per request.
        if app.secret_key and ("HTTP_COOKIE" not in request.environ
                               or self.get_cookie_name(app) not in request.cookies):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if session or session.modified or session.accessed:   # otherwise Flask's would do nothing
            super().save_session(app, session, response)


def derived_key(tokens) -> str:
    """The session key when SECRET_KEY is unset in local mode (see the module's docstring)."""
    return hmac.new(_DERIVATION_LABEL, "\n".join(sorted(tokens)).encode(), hashlib.sha256).hexdigest()


def key_source(config) -> str:
    """Where the session key comes from: 'secret' (SECRET_KEY), 'derived' (local mode) or 'missing'."""
    if config.secret_key:
        return "secret"
    return "derived" if config.local_mode else "missing"


def configure(app) -> None:
    """Called once when the blueprint is registered: the session key, cookie and lifetime."""
    config = app.extensions["handoff"].config
    source = key_source(config)
    if source == "secret":
        app.secret_key = config.secret_key
    elif source == "derived":
        app.secret_key = derived_key(config.api_tokens)
    app.extensions["inspector_key_source"] = source
    app.session_interface = InspectorSessions()
    app.config.update(SESSION_COOKIE_NAME=COOKIE_NAME, SESSION_COOKIE_PATH=COOKIE_PATH,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME)


def _config():
    return current_app.extensions["handoff"].config


def _fingerprint(token: str) -> str:
    return hmac.new(str(current_app.secret_key).encode(), token.encode(), hashlib.sha256).hexdigest()[:32]


def _label_of(candidate: str) -> str | None:
    """The label of the API token `candidate` is, or None."""
    labels = _config().token_labels
    token = match_token(candidate, labels)
    return None if token is None else labels[token]


def current_label() -> str | None:
    """The signed-in token's label, or None (no session, expired, or its token was removed)."""
    if current_app.extensions.get("inspector_key_source") == "missing":
        return None
    label, print_ = session.get("label"), session.get("tf")
    if not label or not isinstance(print_, str):
        return None
    valid = sum(hmac.compare_digest(print_, _fingerprint(t)) for t in _config().api_tokens) > 0
    return label if valid else None


def csrf_token() -> str:
    """The session's CSRF token (made at login)."""
    return session.get("csrf", "")


def check_csrf() -> None:
    """403 unless the request carries the session's CSRF token (header X-CSRF-Token or form csrf_token)."""
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = csrf_token()
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise ApiError(403, "csrf_failed", "Missing or invalid CSRF token: reload the Inspector and try again")


def login_required(*, page: bool):
    """A view for signed-in users: pages redirect to the login form, JSON and streams answer 401."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if current_label() is None:
                if page:
                    return redirect(url_for("inspector.login", next=request.full_path.rstrip("?")))
                raise ApiError(401, "unauthorized", "Not signed in to the Inspector (or the session expired)")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def action(view):
    """A state-changing POST: signed in, and the CSRF token checked."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_label() is None:
            raise ApiError(401, "unauthorized", "Not signed in to the Inspector (or the session expired)")
        check_csrf()
        return view(*args, **kwargs)

    return wrapper


def _safe_next(target: str | None) -> str:
    # Only a path inside the Inspector: never another site (//evil.example) or another part of ours.
    if target and target.startswith(COOKIE_PATH) and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("inspector.index")


def login():
    """GET: the form. POST: check the token, open the session."""
    source = current_app.extensions.get("inspector_key_source")
    error, status = None, 200
    if request.method == "POST":
        label = _label_of((request.form.get("token") or "").strip()) if source != "missing" else None
        if source == "missing":
            error, status = "The Inspector is off until SECRET_KEY is set.", 503
        elif label is None:
            error, status = "That is not one of this service's API tokens.", 401
            audit("inspector-login-failed", None)
        else:
            token = request.form["token"].strip()
            session.clear()
            session.permanent = True
            session.update(label=label, tf=_fingerprint(token), csrf=secrets.token_urlsafe(32))
            audit("inspector-login", label)
            return redirect(_safe_next(request.form.get("next")), code=303)
    elif current_label() is not None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("inspector/login.html", error=error, next=request.values.get("next", ""),
                           key_source=source), status


def logout():
    """POST with the CSRF token: end the session."""
    label = current_label()
    if label is not None:
        check_csrf()
        audit("inspector-logout", label)
    session.clear()
    return redirect(url_for("inspector.login"), code=303)


def audit(action_name: str, label: str | None, **detail) -> None:
    """Record an Inspector action in the audit log: the token's label, what, when, from which address."""
    try:
        record_inspector_action(current_app.extensions["handoff"], label=label, action=action_name,
                                address=request.remote_addr, **detail)
    except Exception:    # the audit log must never stop the action it records
        current_app.logger.exception("audit: could not record %s", action_name)
