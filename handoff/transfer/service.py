"""The operations the HTTP API offers, in one object (blueprints/api.py calls these)."""
from __future__ import annotations

from ..record import Transfer
from ..transfer_request import TransferRequest
from .lifecycle import Lifecycle
from .requests import Requests
from .views import Views


class TransferService:
    """Request, cancel and read transfers."""

    def __init__(self, requests: Requests, lifecycle: Lifecycle, views: Views):
        self._requests = requests
        self._lifecycle = lifecycle
        self.views = views
        self.store = requests.store

    def request_transfer(self, call_sid: str, request: TransferRequest, *, idempotency_key: str | None = None,
                         via: str = "api") -> tuple[Transfer, bool]:
        """Validate, store and start a transfer; returns (transfer, created)."""
        return self._requests.submit(call_sid, request, idempotency_key=idempotency_key, via=via)

    def cancel(self, transfer_id: str, *, detail: str = "cancelled through the API") -> Transfer:
        """Cancel a transfer in progress; the caller goes back to the agent."""
        return self._lifecycle.cancel(transfer_id, detail)

    def transfer_view(self, transfer_id: str) -> dict | None:
        return self.views.transfer(transfer_id)

    def call_view(self, call_sid: str) -> dict | None:
        return self.views.call(call_sid)

    def context_view(self, transfer_id: str) -> dict | None:
        return self.views.context(transfer_id)
