"""Builds the objects one process needs (Redis, store, queue, lifecycle, modes, routing) from a Config."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

import redis
from rq import Queue

from .callback_urls import CallbackUrls
from .clock import REAL
from .config import Config, ConfigError
from .events import EventLog
from .gateway import TwilioGateway
from .jobs import JobQueue
from .keys import Keys
from .store import Store
from .summary import build_summariser
from .transfer.agent import AgentMode
from .transfer.calls import Calls
from .transfer.cold import ColdMode
from .transfer.context import Context
from .transfer.lifecycle import Lifecycle
from .transfer.modes import Modes
from .transfer.requests import Requests
from .transfer.service import TransferService
from .transfer.views import Views
from .transfer.warm import WarmMode

log = logging.getLogger("handoff")
DEFAULT_HOLD_MUSIC = "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"


@dataclass
class Runtime:
    """Everything a web or worker process shares; built once per process."""

    config: Config
    redis: redis.Redis
    store: Store
    jobs: JobQueue
    ctx: Context
    lifecycle: Lifecycle
    cold: ColdMode
    warm: WarmMode
    agent: AgentMode
    calls: Calls
    service: TransferService
    routing: Any | None      # handoff.routing.RouterHolder when TRANSFER_CONFIG is set
    events: EventLog


def build_runtime(config: Config, *, render: Callable[[Any], str], connection: redis.Redis | None = None,
                  load_scripts: bool = True) -> Runtime:
    """Wire the domain objects; loads routing (a broken recipients file stops start-up).

    `render` is twiml.render: the domain decides, twiml/ renders, and only the processes' entry
    points (app.py, workers/) know both."""
    connection = connection or config.redis_connection()
    keys = Keys(config.key_prefix)
    store = Store(connection, keys=keys, ttl=config.state_ttl, feed_cap=config.event_feed_cap,
                  analytics_ttl=config.analytics_days * 24 * 3600, archive_after=config.archive_after,
                  chain_limit=config.transfer_chain_limit)
    jobs = JobQueue(Queue(keys.queue_name(), connection=connection))
    routing = None
    if config.transfer_config:
        from .routing import RouterHolder, RoutingError   # lazily: not needed without a recipients file

        try:
            routing = RouterHolder(config.transfer_config, allow_list=config.allow_list)
        except RoutingError as exc:
            raise ConfigError(f"TRANSFER_CONFIG: {exc.message}") from None
    if load_scripts:
        try:
            store.load_scripts()    # at start-up; a Redis that forgot them (restart) is reloaded per call
        except redis.exceptions.ConnectionError as exc:
            log.warning("Redis unreachable at start-up (%s): scripts load on first use", exc)
    ctx = Context(
        store=store, jobs=jobs, urls=CallbackUrls(config.public_base_url), agent=config.agent,
        allow_list=config.allow_list, router=(lambda: routing.current) if routing else (lambda: None),
        gateway_factory=lambda: TwilioGateway(account_sid=config.twilio_account_sid,
                                              auth_token=config.twilio_auth_token, api_base=config.twilio_api_base,
                                              concurrency=config.worker_threads),
        summariser=build_summariser(base_url=config.llm_base_url, api_key=config.llm_api_key,
                                    model=config.llm_model, timeout=config.llm_timeout),
        caller_id=config.caller_id, fail_message=config.fail_message,
        hold_music_url=DEFAULT_HOLD_MUSIC, render=render,
        clock=config.clock or REAL, local_mode=config.local_mode, twilio_cps=config.twilio_cps)
    lifecycle = Lifecycle(ctx)
    cold, warm, agent = ColdMode(ctx, lifecycle), WarmMode(ctx, lifecycle), AgentMode(ctx, lifecycle)
    lifecycle.modes = Modes(cold=cold, warm=warm, agent=agent)
    requests = Requests(ctx, lifecycle)
    calls = Calls(ctx, lifecycle, requests)
    service = TransferService(requests, lifecycle, Views(store))
    return Runtime(config=config, redis=connection, store=store, jobs=jobs, ctx=ctx, lifecycle=lifecycle,
                   cold=cold, warm=warm, agent=agent, calls=calls, service=service, routing=routing,
                   events=EventLog(connection, keys))
