"""Handoff's domain: transfers, their state machine, the Redis store, the Twilio gateway and routing.

Nothing in this package imports Flask: the web layer (blueprints/) and the RQ jobs (workers/)
both call into it.
"""
