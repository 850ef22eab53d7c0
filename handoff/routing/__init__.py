"""Routing: recipients, groups, rotations, rules, variables, hours, dynamic destinations, explain
and LLM tool definitions, loaded from the recipients file (TRANSFER_CONFIG; see README.md).

Pure domain: nothing here imports Flask.
"""
from .errors import RoutingError
from .reload import RouterHolder, watch
from .router import Router, load_router

__all__ = ["Router", "RouterHolder", "RoutingError", "load_router", "watch"]
