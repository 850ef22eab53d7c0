"""Retention settings: STATE_TTL_SECONDS (how long everything is kept) and ARCHIVE_AFTER_SECONDS (when a
finished transfer is folded into its archive) reach the store; a malformed value is named."""
import pytest

from handoff.config import Config, ConfigError
from handoff.runtime import build_runtime
from tests.service.test_config import GOOD


def test_defaults_keep_a_week_and_archive_after_five_minutes():
    config = Config.from_env(GOOD)
    assert (config.state_ttl, config.archive_after) == (7 * 24 * 3600, 300)


def test_the_settings_reach_the_store():
    config = Config.from_env({**GOOD, "STATE_TTL_SECONDS": "86400", "ARCHIVE_AFTER_SECONDS": "0"})
    runtime = build_runtime(config, render=str, load_scripts=False)
    assert (runtime.store.ttl, runtime.store.archive_after) == (86400, 0)


@pytest.mark.parametrize("value", ["-1", "soon", "1.5", "86401"])
def test_a_malformed_archive_delay_is_named(value):
    with pytest.raises(ConfigError, match="ARCHIVE_AFTER_SECONDS") as info:
        Config.from_env({**GOOD, "ARCHIVE_AFTER_SECONDS": value})
    assert "\n" not in str(info.value)
