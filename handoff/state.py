"""The transfer state machine: statuses, the five outcomes, and which moves are allowed."""
from __future__ import annotations

from enum import Enum


class TransferStatus(str, Enum):
    """Where a transfer is; COMPLETED is the only terminal status."""

    REQUESTED = "requested"    # stored, start job queued
    DIALING = "dialing"        # caller redirected / recipient leg(s) created
    RINGING = "ringing"        # a recipient leg is ringing
    ANSWERED = "answered"      # warm: a leg answered, waiting for human detection
    SCREENING = "screening"    # warm: the recipient hears the whisper and the key prompt
    BRIDGED = "bridged"        # caller and recipient connected (outcome already transfer-success)
    COMPLETED = "completed"    # over; outcome set and never changes

    @property
    def is_finished(self) -> bool:
        return self is TransferStatus.COMPLETED

    @property
    def is_waiting(self) -> bool:
        """A status in which something external must happen before a deadline."""
        return self in _WAITING

    @property
    def is_in_flight(self) -> bool:
        """True until the caller has been bridged or the transfer is over (a second transfer is a 409)."""
        return self not in (TransferStatus.COMPLETED,)


_WAITING = {TransferStatus.REQUESTED, TransferStatus.DIALING, TransferStatus.RINGING,
            TransferStatus.ANSWERED, TransferStatus.SCREENING}


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

    @property
    def is_retryable(self) -> bool:
        """Failures after which the fallback chain may try again (a cancel ends everything)."""
        return self in (Outcome.TIMEOUT, Outcome.CONNECTION_ERROR, Outcome.SCREENING_REJECTED)


class TransferMode(str, Enum):
    """How the caller reaches the recipient."""

    COLD = "cold"
    WARM = "warm"
    AGENT = "agent"


# Allowed moves, in one place: Store.transition refuses (as a programming error) any move not
# listed here; the Lua scripts then apply a move only from the statuses each call site names.
TRANSITIONS: dict[TransferStatus, frozenset[TransferStatus]] = {
    TransferStatus.REQUESTED: frozenset({TransferStatus.DIALING, TransferStatus.BRIDGED, TransferStatus.COMPLETED}),
    TransferStatus.DIALING: frozenset({TransferStatus.DIALING, TransferStatus.RINGING, TransferStatus.ANSWERED,
                                       TransferStatus.SCREENING, TransferStatus.BRIDGED, TransferStatus.COMPLETED}),
    TransferStatus.RINGING: frozenset({TransferStatus.DIALING, TransferStatus.RINGING, TransferStatus.ANSWERED,
                                       TransferStatus.SCREENING, TransferStatus.BRIDGED, TransferStatus.COMPLETED}),
    TransferStatus.ANSWERED: frozenset({TransferStatus.DIALING, TransferStatus.SCREENING, TransferStatus.BRIDGED,
                                        TransferStatus.COMPLETED}),
    TransferStatus.SCREENING: frozenset({TransferStatus.DIALING, TransferStatus.BRIDGED, TransferStatus.COMPLETED}),
    TransferStatus.BRIDGED: frozenset({TransferStatus.COMPLETED}),
    TransferStatus.COMPLETED: frozenset(),
}


def sources_of(target: TransferStatus) -> frozenset[TransferStatus]:
    """Every status from which `target` may be reached."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


# Dial / call statuses Twilio reports, mapped to the outcome of the attempt they end.
DIAL_STATUS_OUTCOMES: dict[str, Outcome] = {
    "completed": Outcome.SUCCESS,
    "answered": Outcome.SUCCESS,
    "busy": Outcome.CONNECTION_ERROR,
    "failed": Outcome.CONNECTION_ERROR,
    "no-answer": Outcome.TIMEOUT,
    "canceled": Outcome.CANCELLED,
}
