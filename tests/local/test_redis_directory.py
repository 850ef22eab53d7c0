"""Each Redis data directory belongs to one server (devtools/embedded_redis.py): a second server on
the same AOF is refused, and the directory is free again once its server has stopped or died."""
from __future__ import annotations

import pytest

from devtools.embedded_redis import EmbeddedRedis


def test_a_data_directory_serves_one_redis_at_a_time(tmp_path):
    first = EmbeddedRedis(tmp_path / "redis").start()
    second = EmbeddedRedis(tmp_path / "redis")
    try:
        with pytest.raises(RuntimeError, match="in use by another redis-server"):
            second.start()
        assert not second.running
        first.kill()                 # a crash frees it as well as a stop
        second.start()
        with pytest.raises(RuntimeError, match="in use"):
            first.start()
        second.restart()             # stop + start on the same directory: still its own
        assert second.running
    finally:
        first.stop()
        second.stop()
