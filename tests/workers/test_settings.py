"""WORKER_THREADS: how many jobs a worker process runs at once, validated like every setting."""
import pytest

from handoff.config import Config, ConfigError

GOOD = {
    "TWILIO_ACCOUNT_SID": "AC" + "ab" * 16, "TWILIO_AUTH_TOKEN": "token", "PUBLIC_BASE_URL": "https://h.example.com/",
    "REDIS_URL": "redis://localhost:6379/0", "API_TOKEN": "0123456789abcdef", "AGENT": "wss://agent.example.com/r",
}


def test_worker_threads_default_and_set():
    assert Config.from_env(GOOD).worker_threads == 16
    assert Config.from_env({**GOOD, "WORKER_THREADS": "4"}).worker_threads == 4


@pytest.mark.parametrize("value", ["many", "0", "-2", "2.5", "129"])
def test_malformed_worker_threads_is_named(value):
    with pytest.raises(ConfigError, match="WORKER_THREADS") as info:
        Config.from_env({**GOOD, "WORKER_THREADS": value})
    assert "\n" not in str(info.value) and repr(value) in str(info.value)
