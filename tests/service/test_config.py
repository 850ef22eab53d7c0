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
