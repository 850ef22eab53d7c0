"""Configuration read from the environment once, validated early, one clear line per bad variable."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlparse

from .clock import Clock
from .destinations import AllowList, DestinationError, parse_e164

_SID_RE = re.compile(r"^AC[0-9a-f]{32}$")
# 256 KiB: a transfer request's transcript (hundreds of turns) fits; anything bigger is not ours.
DEFAULT_MAX_REQUEST_BYTES = 256 * 1024
MAX_WORKER_PROCESSES = 64
MAX_WORKER_THREADS = 128


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and what is wrong."""


@dataclass(frozen=True)
class AgentConnection:
    """How a caller reaches the AI agent: a ConversationRelay or Media Streams websocket, or a TwiML URL."""

    kind: str      # conversation-relay | stream | twiml
    url: str

    @classmethod
    def parse(cls, value: str, *, variable: str = "AGENT") -> "AgentConnection":
        """Accepts 'wss://…' (ConversationRelay), 'stream:wss://…', 'conversation-relay:wss://…', 'https://…' (TwiML)."""
        kind, url = "", value.strip()
        for prefix in ("conversation-relay:", "stream:", "twiml:"):
            if url.startswith(prefix):
                kind, url = prefix[:-1], url[len(prefix):]
        scheme = urlparse(url).scheme
        if not kind:
            kind = "twiml" if scheme in ("http", "https") else "conversation-relay"
        allowed = ("http", "https") if kind == "twiml" else ("ws", "wss")
        if scheme not in allowed or not urlparse(url).netloc:
            raise ConfigError(f"{variable}: {value!r} is not a {'/'.join(allowed)} URL for a {kind} agent")
        return cls(kind=kind, url=url)


@dataclass(frozen=True)
class Config:
    """Every setting Handoff reads; build it with Config.from_env()."""

    twilio_account_sid: str
    twilio_auth_token: str
    public_base_url: str
    redis_url: str
    api_tokens: tuple[str, ...]
    agent: AgentConnection
    twilio_api_base: str = "https://api.twilio.com"
    transfer_config: str | None = None
    allow_list: AllowList = field(default_factory=AllowList)
    key_prefix: str = "handoff"
    state_ttl: int = 7 * 24 * 3600            # retention: calls and transfers expire this long after their last change
    archive_after: int = 300                  # a finished transfer is folded into its compact archive after this long
    caller_id: str | None = None              # a fixed E.164 caller ID; None = the agent's number
    fail_message: str | None = None           # said before hanging up when a failed transfer cannot return
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    llm_timeout: float = 4.0
    redis_tls_verify: bool = True             # Heroku Redis (rediss://) uses a self-signed certificate
    worker_processes: int = 2                 # RQ worker processes per worker dyno (python -m workers)
    twilio_cps: float = 1.0                   # the account's calls per second (TWILIO_CPS): dialed legs may queue
    worker_threads: int = 16                  # jobs each worker process runs at once (its lanes)
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES   # larger bodies are refused with 413
    token_labels: Mapping[str, str] = field(default_factory=dict)   # API token -> its label (audit, logs)
    secret_key: str | None = None             # signs the Inspector's session cookie (SECRET_KEY)
    metrics_token: str | None = None          # /metrics wants `Authorization: Bearer <METRICS_TOKEN>` when set
    events_url: str | None = None             # every transfer event is POSTed here (event webhooks)
    events_secret: str | None = None          # HMAC-SHA256 key of those POSTs (default: the first API token)
    events_max_age: int = 24 * 3600           # seconds a delivery is retried before it is given up
    event_feed_cap: int = 20000               # events kept in the live feed (approximate cap)
    analytics_days: int = 90                  # hourly analytics buckets kept this many days
    log_pii: bool = False                     # phone numbers appear unmasked in logs only when true
    local_mode: bool = False                  # make run: the simulator plays every party (HANDOFF_LOCAL)
    clock: Clock | None = None                # HANDOFF_CLOCK, local mode only; None = real time
    # Hand-off cards (handoff/cards.py): a link works until its transfer ended plus the grace, and never
    # longer than the max age after it was sent.
    card_grace: int = 600                     # CARD_GRACE_SECONDS
    card_max_age: int = 24 * 3600             # CARD_MAX_AGE_SECONDS
    # Chained transfers: the most transfers one call may go through (stops agents handing off in a loop).
    transfer_chain_limit: int = 10            # TRANSFER_CHAIN_LIMIT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Config":
        """Read and validate; raises ConfigError naming the first bad variable."""

        def required(name: str) -> str:
            value = (env.get(name) or "").strip()
            if not value:
                raise ConfigError(f"{name} is not set (see .env.example)")
            return value

        sid = required("TWILIO_ACCOUNT_SID")
        if not _SID_RE.match(sid):
            raise ConfigError("TWILIO_ACCOUNT_SID must be 'AC' followed by 32 lowercase hex digits")
        token = required("TWILIO_AUTH_TOKEN")
        public = required("PUBLIC_BASE_URL").rstrip("/")
        _check_http_url("PUBLIC_BASE_URL", public)
        api_base = (env.get("TWILIO_API_BASE") or "https://api.twilio.com").strip().rstrip("/")
        _check_http_url("TWILIO_API_BASE", api_base)
        redis_url = required("REDIS_URL")
        if urlparse(redis_url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
        labels = _token_labels(required("API_TOKEN"))
        tokens = tuple(labels)
        agent = AgentConnection.parse(required("AGENT"))
        try:
            allow_list = AllowList.parse(env.get("TRANSFER_ALLOWED_PREFIXES"))
        except ValueError as exc:
            raise ConfigError(f"TRANSFER_ALLOWED_PREFIXES: {exc}") from None
        caller_id = (env.get("TRANSFER_CALLER_ID") or "").strip() or None
        if caller_id:
            try:
                caller_id = parse_e164(caller_id)
            except DestinationError as exc:
                raise ConfigError(f"TRANSFER_CALLER_ID: {exc.reason}") from None
        prefix = (env.get("REDIS_KEY_PREFIX") or "handoff").strip()
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", prefix):
            raise ConfigError("REDIS_KEY_PREFIX may hold only letters, digits, '_', '.', '-'")
        llm = {name: (env.get(name) or "").strip() or None for name in ("LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL")}
        if any(llm.values()) and not all(llm.values()):
            missing = [name for name, value in llm.items() if not value]
            raise ConfigError(f"{missing[0]} is not set (LLM_BASE_URL, LLM_API_KEY and LLM_MODEL go together)")
        local_mode = _flag(env, "HANDOFF_LOCAL", False)
        clock = _clock(env, local_mode)
        return cls(
            twilio_account_sid=sid,
            twilio_auth_token=token,
            public_base_url=public,
            redis_url=redis_url,
            api_tokens=tokens,
            agent=agent,
            twilio_api_base=api_base,
            transfer_config=(env.get("TRANSFER_CONFIG") or "").strip() or None,
            allow_list=allow_list,
            key_prefix=prefix,
            state_ttl=_positive_int(env, "STATE_TTL_SECONDS", 7 * 24 * 3600),
            archive_after=_positive_int(env, "ARCHIVE_AFTER_SECONDS", 300, minimum=0, maximum=24 * 3600),
            caller_id=caller_id,
            fail_message=(env.get("TRANSFER_FAIL_MESSAGE") or "").strip() or None,
            llm_base_url=llm["LLM_BASE_URL"],
            llm_api_key=llm["LLM_API_KEY"],
            llm_model=llm["LLM_MODEL"],
            llm_timeout=_positive_float(env, "LLM_TIMEOUT_SECONDS", 4.0),
            redis_tls_verify=_tls_verify(env),
            worker_processes=_positive_int(env, "WORKER_PROCESSES", 2, maximum=MAX_WORKER_PROCESSES),
            twilio_cps=_twilio_cps(env),
            worker_threads=_positive_int(env, "WORKER_THREADS", 16, maximum=MAX_WORKER_THREADS),
            max_request_bytes=_positive_int(env, "MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES,
                                            minimum=1024, maximum=64 * 1024 * 1024),
            token_labels=labels,
            secret_key=_secret(env, "SECRET_KEY"),
            metrics_token=_secret(env, "METRICS_TOKEN"),
            events_url=_events_url(env),
            events_secret=_secret(env, "EVENTS_SECRET") or tokens[0],
            events_max_age=_positive_int(env, "EVENTS_MAX_AGE_SECONDS", 24 * 3600, minimum=10,
                                         maximum=7 * 24 * 3600),
            event_feed_cap=_positive_int(env, "EVENT_FEED_LENGTH", 20000, minimum=100, maximum=10_000_000),
            analytics_days=_positive_int(env, "ANALYTICS_RETENTION_DAYS", 90, maximum=3650),
            log_pii=_flag(env, "LOG_PII", False),
            local_mode=local_mode,
            clock=clock,
            card_grace=_positive_int(env, "CARD_GRACE_SECONDS", 600, minimum=0, maximum=7 * 24 * 3600),
            card_max_age=_positive_int(env, "CARD_MAX_AGE_SECONDS", 24 * 3600, minimum=10, maximum=7 * 24 * 3600),
            transfer_chain_limit=_positive_int(env, "TRANSFER_CHAIN_LIMIT", 10, maximum=1000),
        )

    def redis_connection(self, *, blocking: bool = False):
        """A Redis client for REDIS_URL (one per process; the pool is shared by its threads).

        `blocking`: for RQ workers, whose BLPOP waits longer than any socket timeout we would set."""
        import redis

        options = {"health_check_interval": 30, "socket_connect_timeout": 2}
        if not blocking:
            options["socket_timeout"] = 5
        if self.redis_url.startswith("rediss://") and not self.redis_tls_verify:
            options["ssl_cert_reqs"] = "none"
        return redis.Redis.from_url(self.redis_url, **options)


def _clock(env: Mapping[str, str], local_mode: bool) -> Clock | None:
    """HANDOFF_CLOCK: a set time for routing, honoured only in local mode (production never has one)."""
    raw = (env.get("HANDOFF_CLOCK") or "").strip()
    if not raw:
        return None
    if not local_mode:
        raise ConfigError("HANDOFF_CLOCK: only in local mode (HANDOFF_LOCAL=1); production always uses the real clock")
    try:
        return Clock.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"HANDOFF_CLOCK: {exc} (frozen; 'moving:<time>' lets it run)") from None


def _twilio_cps(env: Mapping[str, str]) -> float:
    """TWILIO_CPS: the calls per second set on the Twilio account (1 by default, up to 30 self-served)."""
    raw = (env.get("TWILIO_CPS") or "").strip()
    try:
        value = float(raw) if raw else 1.0
    except ValueError:
        value = 0.0
    if not (0 < value <= 10_000):   # also refuses 'nan' and 'inf'
        raise ConfigError(f"TWILIO_CPS must be the account's calls per second (a number above 0), got {raw!r}")
    return value


def _tls_verify(env: Mapping[str, str]) -> bool:
    return _flag(env, "REDIS_TLS_VERIFY", True)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or ("true" if default else "false")).strip().lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    return raw in ("true", "1", "yes")


_LABELLED = re.compile(r"^([A-Za-z0-9_.\-]{1,40}):(.+)$")


def _token_labels(raw: str) -> dict[str, str]:
    """API_TOKEN: comma-separated tokens, each optionally 'label:token'; unlabelled ones are token-1, token-2..."""
    labels: dict[str, str] = {}
    for n, item in enumerate((t.strip() for t in raw.split(",") if t.strip()), start=1):
        match = _LABELLED.match(item)
        label, token = (match.group(1), match.group(2).strip()) if match and len(match.group(2)) >= 16 \
            else (f"token-{n}", item)
        if len(token) < 16:
            raise ConfigError("API_TOKEN must be one or more comma-separated tokens of at least 16 characters")
        labels[token] = label
    if not labels:
        raise ConfigError("API_TOKEN must be one or more comma-separated tokens of at least 16 characters")
    return labels


def _secret(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    if value and len(value) < 16:
        raise ConfigError(f"{name} must be at least 16 characters")
    return value or None


def _events_url(env: Mapping[str, str]) -> str | None:
    value = (env.get("EVENTS_URL") or "").strip()
    if value:
        _check_http_url("EVENTS_URL", value)
    return value or None


def _check_http_url(name: str, value: str) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")


def _positive_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1,
                  maximum: int | None = None) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    # ASCII digits only: str.isdigit() also accepts '²', which int() then refuses.
    value = int(raw) if re.fullmatch(r"[0-9]{1,12}", raw) else -1
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise ConfigError(f"{name} must be a whole number {bounds}, got {raw!r}")
    return value


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if not (0 < value < 3600):   # also refuses 'nan' and 'inf', which float() accepts
        raise ConfigError(f"{name} must be a positive number of seconds below 3600, got {raw!r}")
    return value
