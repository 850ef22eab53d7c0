"""Flask app factory serving the REST API and the /sim control API for one Simulator."""

from flask import Flask

from simulator import control, rest


def create_app(sim):
    """A Flask app bound to `sim` (no global state: the simulator travels in app.config)."""
    app = Flask("simulator")
    app.config["SIMULATOR"] = sim
    app.register_blueprint(rest.bp)
    app.register_blueprint(control.bp)
    return app
