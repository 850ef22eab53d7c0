"""Serving a Simulator with werkzeug's threaded server, in the foreground or a background thread."""

import logging
import threading

from werkzeug.serving import make_server

from simulator.app import create_app


class ServerThread:
    """A werkzeug threaded server for a Simulator, running in a daemon thread."""

    def __init__(self, sim, host="127.0.0.1", port=0):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.sim = sim
        self.server = make_server(host, port, create_app(sim), threaded=True)
        self.server.daemon_threads = True
        self.host, self.port = host, self.server.server_port
        # A short poll interval: shutdown() waits for the loop's next poll (0.5 s by default, per test).
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="sim-http", daemon=True)

    @property
    def url(self):
        """Base URL, e.g. http://127.0.0.1:PORT."""
        return f"http://{self.host}:{self.port}"

    def start(self):
        """Start serving in the background."""
        self.thread.start()
        return self

    def stop(self):
        """Stop serving and stop the simulator's threads."""
        self.sim.shutdown()
        self.server.shutdown()
        self.server.server_close()
