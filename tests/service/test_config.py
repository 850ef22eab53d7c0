"""Configuration: a missing or malformed setting stops start-up with one line naming it."""
import pytest

from handoff.config import Config, ConfigError

GOOD = {
    "TWILIO_ACCOUNT_SID": "AC" + "ab" * 16, "TWILIO_AUTH_TOKEN": "token", "PUBLIC_BASE_URL": "https://h.example.com/",
    "REDIS_URL": "redis://localhost:6379/0", "API_TOKEN": "0123456789abcdef", "AGENT": "wss://agent.example.com/r",
}


def test_good_environment_parses():
    config = Config.from_env(GOOD)
    assert config.public_base_url == "https://h.example.com"          # trailing slash dropped
    assert config.agent.kind == "conversation-relay" and config.twilio_api_base == "https://api.twilio.com"


@pytest.mark.parametrize("agent,kind", [("wss://a.example.com/x", "conversation-relay"),
                                        ("stream:wss://a.example.com/x", "stream"),
                                        ("https://a.example.com/twiml", "twiml")])
def test_agent_kinds(agent, kind):
    assert Config.from_env({**GOOD, "AGENT": agent}).agent.kind == kind


@pytest.mark.parametrize("name", sorted(GOOD))
def test_missing_required_setting_is_named(name):
    env = {k: v for k, v in GOOD.items() if k != name}
    with pytest.raises(ConfigError, match=name):
        Config.from_env(env)


@pytest.mark.parametrize("name,value", [
    ("TWILIO_ACCOUNT_SID", "SK123"), ("PUBLIC_BASE_URL", "ftp://x"), ("REDIS_URL", "http://x"),
    ("API_TOKEN", "short"), ("AGENT", "ftp://agent"), ("TRANSFER_ALLOWED_PREFIXES", "1415,+44"),
    ("TRANSFER_CALLER_ID", "12"), ("STATE_TTL_SECONDS", "-5"), ("LLM_BASE_URL", "https://llm.example.com"),
    ("TWILIO_API_BASE", "not a url"), ("REDIS_KEY_PREFIX", "has space"),
])
def test_malformed_setting_is_named(name, value):
    with pytest.raises(ConfigError, match=name) as info:
        Config.from_env({**GOOD, name: value})
    assert "\n" not in str(info.value)


def test_app_refuses_to_start_with_one_line(monkeypatch):
    from app import create_app

    for name in GOOD:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as info:
        create_app({**GOOD, "API_TOKEN": "", "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert str(info.value) == "handoff: API_TOKEN is not set (see .env.example)"


def test_broken_recipients_file_stops_start_up(tmp_path):
    from app import create_app

    broken = tmp_path / "recipients.yaml"
    broken.write_text("recipients:\n  - name: x\n    type: number\n    number: 'not a number'\n")
    with pytest.raises(SystemExit) as info:
        create_app({**GOOD, "REDIS_URL": "redis://127.0.0.1:1/0", "TRANSFER_CONFIG": str(broken)})
    assert str(info.value).startswith("handoff: TRANSFER_CONFIG:") and "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5", "²", " ", "65", "99999999999999999999"])
def test_malformed_worker_processes_is_named(value):
    if not value.strip():
        assert Config.from_env({**GOOD, "WORKER_PROCESSES": value}).worker_processes == 2
        return
    with pytest.raises(ConfigError, match="WORKER_PROCESSES") as info:
        Config.from_env({**GOOD, "WORKER_PROCESSES": value})
    assert "\n" not in str(info.value) and repr(value) in str(info.value)


def test_worker_processes_and_max_request_bytes():
    config = Config.from_env(GOOD)
    assert config.worker_processes == 2 and config.max_request_bytes == 256 * 1024
    config = Config.from_env({**GOOD, "WORKER_PROCESSES": "4", "MAX_REQUEST_BYTES": "65536"})
    assert config.worker_processes == 4 and config.max_request_bytes == 65536


@pytest.mark.parametrize("name,value", [("MAX_REQUEST_BYTES", "10"), ("MAX_REQUEST_BYTES", "64KiB"),
                                        ("STATE_TTL_SECONDS", "²"), ("LLM_TIMEOUT_SECONDS", "nan"),
                                        ("LLM_TIMEOUT_SECONDS", "inf"), ("LLM_TIMEOUT_SECONDS", "0")])
def test_other_numeric_settings_are_checked(name, value):
    with pytest.raises(ConfigError, match=name):
        Config.from_env({**GOOD, name: value})


def test_app_takes_its_body_limit_from_max_request_bytes(service_env):
    from app import create_app

    app = create_app({**service_env, "MAX_REQUEST_BYTES": "2048", "TRANSFER_CONFIG": ""})
    assert app.config["MAX_CONTENT_LENGTH"] == 2048 and app.json.sort_keys is False
    response = app.test_client().post("/api/routing/explain", data=b"x" * 4096, content_type="application/json")
    assert response.status_code == 413 and "2048" in response.get_json()["error"]["message"]
