"""The one error type of the routing package."""
from __future__ import annotations


class RoutingError(Exception):
    """A routing failure the API can show as-is.

    `field` names what was wrong ("to", "variables.account_id", or for a file error
    "recipients[2].number"); `message` is one clear line. `str(err)` is the message.
    """

    def __init__(self, message: str, field: str | None = None):
        message = " ".join(str(message).split())  # always one line
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message}
