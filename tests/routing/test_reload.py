import threading
import time

from handoff.destinations import AllowList
from handoff.routing import RouterHolder, watch

GOOD = """
recipients:
  - {name: a, type: number, number: "+14155550100"}
"""
BETTER = GOOD + """  - {name: b, type: number, number: "+14155550101"}
"""
BROKEN = GOOD + """  - {name: b, type: number, numbr: "+14155550101"}
"""


def test_reload_keeps_last_good(write):
    path = write(GOOD)
    holder = RouterHolder(path, AllowList.parse("+1"))
    first = holder.current
    path.write_text(BROKEN)
    ok, message = holder.reload()
    assert not ok and "kept the last good" in message and "'numbr'" in message
    assert holder.current is first and holder.last_error
    path.write_text(BETTER)
    ok, message = holder.reload()
    assert ok and "2 recipients" in message and holder.last_error is None
    assert set(holder.current.config.recipients) == {"a", "b"}
    # a transfer holding the old router is undisturbed
    assert set(first.config.recipients) == {"a"}


def test_watch_reloads_on_change(write):
    path = write(GOOD)
    holder = RouterHolder(path)
    seen = []
    done = threading.Event()
    stop = watch(holder, interval=0.02, on_reload=lambda ok, msg: (seen.append(ok), done.set()))
    try:
        time.sleep(0.05)
        path.write_text(BETTER)
        assert done.wait(2)
        assert seen == [True] and "b" in holder.current.config.recipients
    finally:
        stop.set()


def test_concurrent_reads_during_reload(write):
    path = write(GOOD)
    holder = RouterHolder(path)
    errors = []

    def reader():
        for _ in range(200):
            try:
                holder.current.plan("a", variables={})
            except Exception as exc:  # pragma: no cover
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20):
        path.write_text(BETTER if i % 2 else BROKEN)
        holder.reload()
    for t in threads:
        t.join()
    assert not errors
