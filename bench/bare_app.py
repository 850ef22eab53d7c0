"""The baseline: a bare Flask app with one route that answers any POST with a constant TwiML string.

Served by gunicorn with exactly the settings the real app gets (bench/stack.py), so the ratio
"Handoff / bare" isolates what Handoff adds: signature check, form parsing, Redis, TwiML building.
"""
from __future__ import annotations

from flask import Flask

TWIML = ('<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
         '<ConversationRelay url="wss://agent.example.com/relay" /></Connect></Response>')


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/<path:anything>")
    def constant(anything: str):
        return app.response_class(TWIML, mimetype="text/xml")

    return app


app = create_app()
