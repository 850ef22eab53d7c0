"""Local Twilio voice simulator: REST API, TwiML interpreter, scripted parties, control API."""

from simulator.core import Simulator, SimError
from simulator.settings import SimSettings

__all__ = ["Simulator", "SimError", "SimSettings"]
