"""One transfer's life: requests, the lifecycle, the three modes, recovery, and read views.

The way through it: requests.plan -> lifecycle.start (stored with its first deadline) -> a job ->
the mode's first step (cold, warm, agent) -> Twilio -> a signed callback -> the mode's callback ->
a lifecycle transition (atomic, idempotent, deadline re-armed or cleared) -> the next decision ->
... -> exactly one outcome. recovery.py moves on every transfer whose deadline passed.
"""
