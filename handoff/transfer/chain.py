"""A call's chain of transfers: their order, the history each later one inherits, and its conversation.

Each transfer records the call's transfer before it (`previous_id`, '' for the first) and its place
(`chain_index`, 1-based), set atomically by lua/create.lua, which also refuses a call's transfer beyond
TRANSFER_CHAIN_LIMIT (handoff/transfer/requests.py answers that refusal). Here: what a later transfer's
recipient learns of the earlier ones (Views.context, the whisper, the hand-off card).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from ..events import Event
from ..record import Attempt, Transfer
from ..state import AttemptResult, Outcome
from ..store import Store

# How each attempt's end reads in the history ("billing declined"): AttemptResult's values.
RESULT_WORDS = {AttemptResult.ACCEPTED.value: "accepted", AttemptResult.DECLINED.value: "declined",
                AttemptResult.VOICEMAIL.value: "went to a machine", AttemptResult.NO_ANSWER.value: "did not answer",
                AttemptResult.BUSY.value: "was busy", AttemptResult.FAILED.value: "could not be reached",
                AttemptResult.TIMEOUT.value: "did not respond", AttemptResult.HUNG_UP.value: "hung up",
                AttemptResult.CANCELLED.value: "was cancelled"}
SENTENCE_TRANSFERS = 3     # the whisper names the last few earlier transfers: it must stay short


def position(t: Transfer) -> tuple[int | None, str | None]:
    """The transfer's (chain_index, previous transfer id); None for transfers stored before chains."""
    index = t.fields.get("chain_index")
    return (int(index) if str(index or "").isdigit() else None), (t.fields.get("previous_id") or None)


def earlier(store: Store, t: Transfer) -> list[tuple[Transfer, list[Event]]]:
    """The call's transfers before `t`, oldest first, with their events (archived ones from their archive)."""
    ids = store.call_transfer_ids(t.call_sid)
    if t.id in ids:
        ids = ids[:ids.index(t.id)]
    else:   # the call's list expired before the transfer: follow the links back instead
        ids, link = [], position(t)[1]
        while link and link not in ids and len(ids) < 1000:
            ids.insert(0, link)
            previous = store.get_transfer(link)
            link = position(previous)[1] if previous else None
    found = (store.get_transfer_with_events(transfer_id) for transfer_id in ids)
    return [(before, events) for before, events in found if before is not None]


def _names(attempt: Attempt) -> str:
    if attempt.dynamic and not attempt.targets:
        return attempt.dynamic
    return " + ".join(target.recipient or target.address for target in attempt.targets) or "(nobody)"


def attempts_tried(t: Transfer, events: Sequence[Event]) -> list[dict]:
    """Who the transfer tried, in order, and how each attempt ended (from its 'attempt-failed' events,
    then the attempt it ended on)."""
    tried = [{"attempt": e.attempt, "to": e.detail.get("destination") or "", "result": e.detail.get("result"),
              "detail": e.detail.get("reason")} for e in events if e.type == "attempt-failed"]
    seen = {entry["attempt"] for entry in tried}
    if t.attempts and t.attempt not in seen and t.outcome is not None:
        current = t.attempts[min(t.attempt, len(t.attempts) - 1)]
        result = AttemptResult.ACCEPTED.value if t.outcome is Outcome.SUCCESS else \
            t.fields.get("att_result") or (AttemptResult.CANCELLED.value if t.outcome is Outcome.CANCELLED else None)
        if result and (result != AttemptResult.CANCELLED.value or t.fields.get("ts_dialed")):
            tried.append({"attempt": t.attempt, "to": _names(current), "result": result,
                          "detail": t.outcome_detail or None})
    for entry in tried:
        entry["said"] = f"{_spoken(entry['to'])} {RESULT_WORDS.get(entry['result'] or '', 'ended')}"
    return tried


def history(store: Store, t: Transfer) -> list[dict]:
    """The earlier transfers on t's call, oldest first: what each asked for, how it ended, who it tried."""
    entries = []
    for before, events in earlier(store, t):
        index, previous = position(before)
        entries.append({"transfer_id": before.id, "chain_index": index, "previous_transfer_id": previous,
                        "mode": before.mode.value, "to": before.to, "reason": before.reason or None,
                        "summary": before.fields.get("summary") or None,
                        "outcome": before.outcome.value if before.outcome else None,
                        "outcome_detail": before.outcome_detail or None,
                        "created_at": before.fields.get("created_at"),
                        "attempts": attempts_tried(before, events),
                        "transcript": before.context.get("transcript") or []})
    return entries


def _key(turn: Mapping) -> tuple[str, str]:
    role = str(turn.get("role") or turn.get("speaker") or "").strip().lower()
    text = " ".join(str(turn.get("text") or turn.get("content") or "").split())
    return role, text


def _resent(have: Sequence[tuple[str, str]], new: Sequence[tuple[str, str]]) -> int:
    """How many of `new`'s first turns are a resend: the END of `have` (an agent going on from where the
    conversation stands), or `have` from its first turn (an agent resending all it had). A run matched
    anywhere else is a new turn said again (a second "yes"), kept."""
    from_start = 0
    while from_start < min(len(have), len(new)) and have[from_start] == new[from_start]:
        from_start += 1
    for length in range(min(len(have), len(new)), from_start, -1):
        if list(have[len(have) - length:]) == list(new[:length]):
            return length
    return from_start


def merge_transcripts(transcripts: Iterable[Sequence[Mapping]]) -> list[dict]:
    """One conversation from each transfer's transcript, in order: agents often resend what they had, so a
    transcript that begins with the conversation's last turns (or all of it) only adds what follows them."""
    merged: list[dict] = []
    for transcript in transcripts:
        turns = [dict(turn) for turn in transcript or () if isinstance(turn, Mapping)]
        merged.extend(turns[_resent([_key(x) for x in merged], [_key(x) for x in turns]):])
    return merged


def accumulated(store: Store, t: Transfer) -> dict:
    """What Views.context adds for a chained transfer: its place, the history and the whole conversation."""
    entries = history(store, t)
    index, previous = position(t)
    transcript = merge_transcripts([*(e.pop("transcript") for e in entries), t.context.get("transcript") or []])
    return {"chain_index": index, "previous_transfer_id": previous, "history": entries, "transcript": transcript}


def _spoken(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("-", " ").split())


def history_sentence(entries: Sequence[Mapping]) -> str:
    """The history in a few spoken words for a warm recipient: 'Earlier: billing declined; sales did not
    answer.' ('' when the transfer is the call's first)."""
    said = [a["said"] for entry in entries[-SENTENCE_TRANSFERS:] for a in entry.get("attempts") or ()]
    if not said:
        return ""
    return "Earlier: " + "; ".join(said[-2 * SENTENCE_TRANSFERS:]) + "."


def call_links(store: Store, t: Transfer) -> list[dict]:
    """The chain of t's call as links (t as given, the others read); empty for a call's lone transfer."""
    ids = store.call_transfer_ids(t.call_sid)
    if len(ids) < 2:
        return []
    records = [store.get_transfer(i) if i != t.id else t for i in ids]
    return links([r for r in records if r is not None])


def links(transfers: Sequence[Transfer]) -> list[dict]:
    """The call's chain, in order: each link's place, what it was and how it ended (the call's list order
    stands in for transfers stored before they carried their own place)."""
    return [{"position": n, "transfer_id": t.id,
             "previous_transfer_id": position(t)[1] or (transfers[n - 2].id if n > 1 else None),
             "mode": t.mode.value, "to": t.to, "status": t.status.value,
             "outcome": t.outcome.value if t.outcome else None, "outcome_detail": t.outcome_detail or None}
            for n, t in enumerate(transfers, start=1)]
