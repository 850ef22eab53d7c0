"""Builds the objects one process needs (Redis, store, queue, service, routing) from a Config."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from rq import Queue

from .callback_urls import CallbackUrls
from .config import Config
from .gateway import TwilioGateway
from .jobs import JobQueue
from .keys import Keys
from .store import Store
from .summary import build_summariser
from .transfers import TransferService

log = logging.getLogger("handoff")


@dataclass
class Runtime:
    """Everything a web or worker process shares; built once per process."""

    config: Config
    redis: redis.Redis
    store: Store
    jobs: JobQueue
    service: TransferService
    routing: object | None      # handoff.routing.RouterHolder when TRANSFER_CONFIG is set


def build_runtime(config: Config, *, connection: redis.Redis | None = None) -> Runtime:
    """Wire the domain objects; loads routing (a broken recipients file stops start-up)."""
    connection = connection or config.redis_connection()
    keys = Keys(config.key_prefix)
    store = Store(connection, keys=keys, ttl=config.state_ttl)
    queue = Queue(keys.queue_name(), connection=connection)
    jobs = JobQueue(queue)
    routing = None
    if config.transfer_config:
        from .config import ConfigError
        from .routing import RouterHolder, RoutingError   # lazily: not needed without a recipients file

        try:
            routing = RouterHolder(config.transfer_config, allow_list=config.allow_list)
        except RoutingError as exc:
            raise ConfigError(f"TRANSFER_CONFIG: {exc.message}") from None
    service = TransferService(
        store=store, jobs=jobs, urls=CallbackUrls(config.public_base_url), agent=config.agent,
        allow_list=config.allow_list, router=(lambda: routing.current) if routing else None,
        gateway_factory=lambda: TwilioGateway(account_sid=config.twilio_account_sid,
                                              auth_token=config.twilio_auth_token,
                                              api_base=config.twilio_api_base),
        summariser=build_summariser(base_url=config.llm_base_url, api_key=config.llm_api_key,
                                    model=config.llm_model, timeout=config.llm_timeout),
        caller_id=config.caller_id, fail_message=config.fail_message)
    return Runtime(config=config, redis=connection, store=store, jobs=jobs, service=service, routing=routing)
