"""The transfer state machine: statuses, outcomes, modes, deadlines, and which moves are allowed."""
from __future__ import annotations

from enum import Enum


class TransferStatus(str, Enum):
    """Where a transfer is; COMPLETED is the only terminal status."""

    REQUESTED = "requested"    # stored, start job queued; the caller is still where it was
    DIALING = "dialing"        # the caller is in the Dial / on hold; an attempt is due or its legs ring
    RINGING = "ringing"        # a recipient leg is ringing
    ANSWERED = "answered"      # a recipient leg answered
    SCREENING = "screening"    # warm: a recipient hears the consent prompt or the whisper
    BRIDGED = "bridged"        # caller and recipient are being connected, or are connected
    COMPLETED = "completed"    # over; the outcome is set and never changes

    @property
    def is_finished(self) -> bool:
        return self is TransferStatus.COMPLETED

    @property
    def is_waiting(self) -> bool:
        """Something external must happen before a deadline."""
        return self in _WAITING


_WAITING = frozenset({TransferStatus.REQUESTED, TransferStatus.DIALING, TransferStatus.RINGING,
                      TransferStatus.ANSWERED, TransferStatus.SCREENING})
WAITING = tuple(sorted(_WAITING, key=lambda s: s.value))


class Outcome(str, Enum):
    """Exactly one of these ends every transfer."""

    SUCCESS = "transfer-success"
    TIMEOUT = "transfer-failed-timeout"
    CONNECTION_ERROR = "transfer-failed-connection-error"
    CANCELLED = "transfer-cancelled"
    SCREENING_REJECTED = "transfer-screening-rejected"

    @property
    def is_success(self) -> bool:
        return self is Outcome.SUCCESS


class TransferMode(str, Enum):
    """How the caller reaches the recipient."""

    COLD = "cold"
    WARM = "warm"
    AGENT = "agent"

    @property
    def is_cold(self) -> bool:
        return self is TransferMode.COLD

    @property
    def is_warm(self) -> bool:
        return self is TransferMode.WARM

    @property
    def is_agent(self) -> bool:
        return self is TransferMode.AGENT


class DeadlineKind(str, Enum):
    """What a transfer waits for; when its deadline passes, the lifecycle acts (handoff.transfer.lifecycle)."""

    START = "start"        # the start job must move the caller
    DIAL = "dial"          # the attempt is due: dial it (also a fallback's retry interval)
    ATTEMPT = "attempt"    # legs ring, screen or wait for detection: the attempt must end by then
    JOIN = "join"          # a recipient accepted: it must join the conference by then
    RETURN = "return"      # the transfer is over and the caller must be moved (last resort, agent)

    @property
    def is_return(self) -> bool:
        return self is DeadlineKind.RETURN


class CallerAt(str, Enum):
    """Where the caller is, as far as the transfer knows (decides what moving them means)."""

    AGENT = "agent"          # still with the AI agent that asked for the transfer
    WAITING = "waiting"      # left the agent (HandoffData) and hears our hold document
    DIAL = "dial"            # in a cold <Dial> or <Refer>
    HOLD = "hold"            # in the warm conference, on hold audio
    BRIDGED = "bridged"      # with the recipient (or the other agent)
    RETURNED = "returned"    # given its next document after the transfer (agent, message, voicemail)

    @property
    def needs_return(self) -> bool:
        """A failed transfer must still move a caller who is here."""
        return self not in (CallerAt.RETURNED, CallerAt.BRIDGED)


class LegState(str, Enum):
    """A recipient leg's progress; legs only move forward (a late 'ringing' never undoes 'answered')."""

    DIALED = "dialed"
    RINGING = "ringing"
    ANSWERED = "answered"
    CONSENT = "consent"        # hears the neutral prompt: no caller content until a key proves a human
    SCREENING = "screening"    # a human: hears the whisper and the accept prompt
    ACCEPTED = "accepted"
    ENDED = "ended"

    @property
    def is_open(self) -> bool:
        return self not in (LegState.ACCEPTED, LegState.ENDED)


# Allowed moves, in one place: Store refuses (as a programming error) any move not listed here.
TRANSITIONS: dict[TransferStatus, frozenset[TransferStatus]] = {
    TransferStatus.REQUESTED: frozenset({TransferStatus.DIALING, TransferStatus.BRIDGED, TransferStatus.COMPLETED}),
    TransferStatus.DIALING: frozenset({TransferStatus.DIALING, TransferStatus.RINGING, TransferStatus.ANSWERED,
                                       TransferStatus.SCREENING, TransferStatus.BRIDGED, TransferStatus.COMPLETED}),
    TransferStatus.RINGING: frozenset({TransferStatus.DIALING, TransferStatus.RINGING, TransferStatus.ANSWERED,
                                       TransferStatus.SCREENING, TransferStatus.BRIDGED, TransferStatus.COMPLETED}),
    TransferStatus.ANSWERED: frozenset({TransferStatus.DIALING, TransferStatus.SCREENING, TransferStatus.BRIDGED,
                                        TransferStatus.COMPLETED}),
    TransferStatus.SCREENING: frozenset({TransferStatus.DIALING, TransferStatus.SCREENING, TransferStatus.BRIDGED,
                                         TransferStatus.COMPLETED}),
    TransferStatus.BRIDGED: frozenset({TransferStatus.DIALING, TransferStatus.BRIDGED, TransferStatus.COMPLETED}),
    TransferStatus.COMPLETED: frozenset(),
}


def check_move(sources, target: TransferStatus | None) -> None:
    """Refuse, as a programming error, a move the state machine does not allow."""
    if target is None:
        return
    for source in sources:
        if target is not source and target not in TRANSITIONS[source]:
            raise ValueError(f"transition {source.value} -> {target.value} is not in handoff.state.TRANSITIONS")


CALL_ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})

# Dial / call statuses Twilio reports, mapped to the outcome of the attempt they end.
DIAL_STATUS_OUTCOMES: dict[str, Outcome] = {
    "completed": Outcome.SUCCESS,
    "answered": Outcome.SUCCESS,
    "busy": Outcome.CONNECTION_ERROR,
    "failed": Outcome.CONNECTION_ERROR,
    "no-answer": Outcome.TIMEOUT,
    "canceled": Outcome.CANCELLED,
}


class AttemptResult(str, Enum):
    """How one attempt ended, as analytics counts it (finer than the transfer's outcome)."""

    ACCEPTED = "accepted"
    DECLINED = "declined"          # the recipient pressed the decline key
    VOICEMAIL = "voicemail"        # detection heard a machine (or a fax)
    NO_ANSWER = "no-answer"        # rang out, or nobody answered before the attempt's deadline
    BUSY = "busy"
    FAILED = "failed"              # Twilio could not place or keep the leg
    TIMEOUT = "timeout"            # answered, but no key (or no join) in time
    HUNG_UP = "hung-up"            # the recipient hung up before accepting
    CANCELLED = "cancelled"        # the transfer was cancelled, or the caller hung up

    @property
    def is_accepted(self) -> bool:
        return self is AttemptResult.ACCEPTED


class Stamp(str, Enum):
    """Moments a transfer records once (per attempt for the first three): analytics' durations."""

    DIALED = "dialed"              # the attempt's first leg was placed (or the cold <Dial> began)
    ANSWERED = "answered"
    ACCEPTED = "accepted"
    HOLD = "hold"                  # the caller started waiting
    HOLD_END = "hold_end"          # the caller stopped waiting (bridged)


ANSWERED = (Stamp.ANSWERED, Stamp.ACCEPTED, Stamp.HOLD_END)   # what a success records (first of each wins)
# How a Dial (or a warm leg) ending with Twilio's status counts in analytics.
DIAL_RESULTS: dict[str, AttemptResult] = {
    "busy": AttemptResult.BUSY,
    "failed": AttemptResult.FAILED,
    "no-answer": AttemptResult.NO_ANSWER,
    "canceled": AttemptResult.CANCELLED,
    "completed": AttemptResult.NO_ANSWER,     # a warm leg over before it answered
}
