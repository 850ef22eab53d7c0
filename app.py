"""Handoff's web application: `create_app()` is the factory gunicorn and the tests use."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Mapping

from dotenv import load_dotenv
from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from blueprints import (analytics, api, api_events, api_listing, audit_log, cli, health, inspector,
                        inspector_analytics, metrics, openapi, scenarios_cli, transfer_callbacks, voice)
from blueprints import texts as sms_status
from blueprints import cards
from blueprints import callbacks
from blueprints.errors import register_error_handlers
from blueprints.security import TwilioSignature
from handoff.config import Config, ConfigError
from handoff.log_masking import setup_log_masking
from handoff.runtime import build_runtime
import twiml


def create_app(overrides: Mapping[str, str] | None = None) -> Flask:
    """Build the app from the environment (.env loaded first), with `overrides` on top (tests)."""
    load_dotenv()
    env = {**os.environ, **(overrides or {})}
    if overrides is None:   # the tests pass their whole configuration: never a developer's var/local.env
        env = _local_defaults(env)
    try:
        config = Config.from_env(env)
        setup_log_masking(config.log_pii)   # every logger of this process, from here on (LOG_PII=true: off)
        runtime = build_runtime(config, render=twiml.render)
    except ConfigError as exc:
        # One line naming the variable, not a traceback: gunicorn prints it and stops booting.
        raise SystemExit(f"handoff: {exc}") from None
    app = Flask(__name__)
    app.json.sort_keys = False   # Flask 2.3+ reads this, not the JSON_SORT_KEYS setting
    # Werkzeug answers 413 (our error shape, blueprints/errors.py) before a view reads a larger body.
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    app.before_request(_refuse_large_bodies)
    # Heroku's router is one proxy hop: trust its X-Forwarded-* headers, nothing more.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.extensions["handoff"] = runtime
    app.extensions["twilio_signature"] = TwilioSignature(config.twilio_auth_token, config.public_base_url)
    for module in (voice, transfer_callbacks, api, health, metrics):
        app.register_blueprint(module.bp)
    # Twilio's webhooks: latency histogram (callbacks.bp also times GET /api/callbacks, under its own route).
    metrics.time_webhooks(app, voice.bp, transfer_callbacks.bp, sms_status.bp, callbacks.bp)
    app.register_blueprint(sms_status.bp)   # /twilio/texts/status: SMS delivery news (handoff/texts.py)
    app.register_blueprint(callbacks.bp)    # callback offers: the offer's action and GET /api/callbacks
    for module in (api_listing, api_events, openapi):   # listings, live events, /api/openapi.json
        app.register_blueprint(module.bp)
    app.register_blueprint(analytics.bp)   # GET /api/analytics
    app.register_blueprint(inspector.bp)   # the Live Inspector at /inspector (session login, SSE)
    app.register_blueprint(inspector_analytics.bp)   # /inspector/analytics: the charts page
    app.register_blueprint(cards.bp)       # /cards/<token>: a warm recipient's hand-off card (the link is the key)
    audit_log.init_app(app)   # every API action recorded; GET /api/audit, /inspector/audit.json
    if env.get("HANDOFF_DEMO") == "1":   # `make run` only: the demo on-call webhook (blueprints/demo.py)
        from blueprints import demo

        app.register_blueprint(demo.bp)
    app.cli.add_command(cli.routing)
    app.cli.add_command(cli.keys)                  # `flask keys migrate` (handoff/migrations.py)
    app.cli.add_command(scenarios_cli.scenarios)   # `flask scenarios run PATH...` (devtools/scenarios)
    register_error_handlers(app)
    _watch_routing(app, runtime)
    logging.getLogger("handoff").setLevel(logging.INFO)
    return app


def _local_defaults(env: dict[str, str]) -> dict[str, str]:
    """Neither Twilio nor Redis configured: `make run`'s environment (var/local.env, or the last run's)
    fills in what is unset, so `flask routing …` needs no hand-written environment in local mode."""
    if env.get("TWILIO_ACCOUNT_SID") or env.get("REDIS_URL"):
        return env
    from devtools.local_env import local_defaults

    found = local_defaults(env)
    if found is None:
        return env
    path, values = found
    print(f"handoff: TWILIO_ACCOUNT_SID and REDIS_URL are unset: using make run's environment from {path}",
          file=sys.stderr)
    return {**values, **{name: value for name, value in env.items() if value}}


def _refuse_large_bodies() -> None:
    """413 as soon as the declared length is over the limit, also for views that never read the body."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def _watch_routing(app: Flask, runtime) -> None:
    """Reload the recipients file when it changes, and on SIGHUP where we own the main thread."""
    if runtime.routing is None:
        return
    from handoff.routing import watch

    def reloaded(ok: bool, message: str, actor: str = "file-watch") -> None:
        (app.logger.info if ok else app.logger.error)("recipients file: %s", message)
        try:    # the audit log: once per file content however many processes reloaded it
            app.extensions["audit"].record_reload(actor, runtime.routing.path, ok, message,
                                                  generation=runtime.routing.generation)
        except Exception as exc:   # never let the audit log stop a reload
            app.logger.warning("audit: could not record the reload: %s", exc)

    app.extensions["routing_watch"] = watch(runtime.routing, interval=1.0, on_reload=reloaded)
    if threading.current_thread() is threading.main_thread() and not os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        signal.signal(signal.SIGHUP, lambda signum, frame: reloaded(*runtime.routing.reload(), actor="sighup"))
