"""Key-layout migration: a transfer's and a call's keys written by the previous release, renamed to today's names.

The previous release named them `<prefix>:transfer:<id>[:events|:seen|:legs]` and
`<prefix>:call:<sid>[:transfers|:active|:variables]`; handoff/keys.py now puts the id in a hash tag
(`<prefix>:transfer:{<id>}`...). New code never looks under the old names, so a transfer in flight
during an upgrade would strand its caller on hold. `migrate_key_layout` finds old names by SCAN and
renames them (RENAMENX: the TTL goes along, a key of the new layout is never overwritten). Every
worker's sweeper runs it before its first job and again for a while (handoff/transfer/recovery.py),
as web processes of the old release may still write old names during a rolling deploy;
`flask keys migrate` runs it by hand. Shared keys (deadlines, feed, indexes, queues) kept their names.
"""
from __future__ import annotations

import logging
import re
from typing import Callable

import redis

from .keys import Keys, decode

log = logging.getLogger("handoff.migrations")

SCAN_COUNT = 1000          # keys Redis looks at per SCAN call
MAX_RENAMES = 10_000       # old keys one call renames at most (about 2,500 transfers): bounded work
_GLOB = re.compile(r"([*?\[\]\\])")
_warned: set[str] = set()  # conflicting keys already logged by this process (a warning once each)


def _layout(keys: Keys) -> dict[str, dict[str, Callable[[str], str]]]:
    """Per kind of entity, the old name's suffix ('' for the main key) -> today's key builder."""
    return {"transfer": {"": keys.transfer, "events": keys.events, "seen": keys.seen, "legs": keys.legs},
            "call": {"": keys.call, "transfers": keys.call_transfers, "active": keys.call_active,
                     "variables": keys.call_variables}}


def _entity(rest: str, suffixes) -> str | None:
    """The id in an old name's tail (`<id>` or `<id>:<suffix>`); None for a name that is not one of ours."""
    head, sep, suffix = rest.rpartition(":")
    if sep and suffix and suffix in suffixes:
        return head or None
    return rest if rest and ":" not in rest else None


def migrate_key_layout(connection: redis.Redis, keys: Keys, *, limit: int | None = MAX_RENAMES,
                       count: int = SCAN_COUNT) -> dict:
    """Rename every old-layout key of a transfer or a call; counts of what was done.

    Idempotent; with nothing left it is one SCAN pass per kind, returning almost nothing (MATCH
    excludes names with a hash tag). All old keys of one entity move in one MULTI, so a script
    never sees a transfer half moved. `complete` is False when `limit` renames stopped the pass."""
    counts = {"renamed": 0, "conflicts": 0, "unknown": 0, "complete": True}
    conflicts: list[str] = []
    for kind, builders in _layout(keys).items():
        start = f"{keys.prefix}:{kind}:"
        pattern = _GLOB.sub(r"\\\1", start) + "[^{]*"     # old names only: no hash tag after the kind
        old_names = {suffix: (lambda i, s=suffix: f"{start}{i}:{s}" if s else f"{start}{i}") for suffix in builders}
        cursor = 0
        while True:
            cursor, found = connection.scan(cursor, match=pattern, count=count)
            ids = []
            for key in found:
                entity = _entity(decode(key, "replace")[len(start):], builders)
                if entity is None:
                    counts["unknown"] += 1
                elif entity not in ids:
                    ids.append(entity)
            if ids:
                pipe = connection.pipeline(transaction=True)
                planned = [(old_names[s](i), build(i)) for i in ids for s, build in builders.items()]
                for old, new in planned:
                    pipe.renamenx(old, new)
                for (old, new), result in zip(planned, pipe.execute(raise_on_error=False)):
                    if isinstance(result, Exception):
                        if "no such key" not in str(result).lower():   # an absent suffix is the usual case
                            raise result
                    elif result:
                        counts["renamed"] += 1
                    else:
                        counts["conflicts"] += 1
                        conflicts.append(old)
            if cursor == 0:
                break
            if limit is not None and counts["renamed"] >= limit:
                counts["complete"] = False
                break
        if not counts["complete"]:
            break
    fresh = [key for key in conflicts if key not in _warned]
    if fresh:
        if len(_warned) < 10_000:
            _warned.update(fresh)
        log.warning("key migration: %d old-layout key(s) left in place because their new name exists "
                    "(the new one is kept), e.g. %s", len(fresh), ", ".join(fresh[:5]))
    if counts["renamed"]:
        log.info("key migration: %s", counts)
    return counts
