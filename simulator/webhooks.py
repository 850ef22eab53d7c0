"""Signed webhook requests, made the way Twilio makes them, and an ordered async sender for callbacks."""

import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests
from twilio.request_validator import RequestValidator

USER_AGENT = "TwilioProxy/1.1"


@dataclass
class WebhookResult:
    """What happened when a webhook was requested."""

    url: str
    method: str
    params: dict
    status: int = None
    content_type: str = ""
    body: str = ""
    error_code: int = None       # 11200 (HTTP error) or 11205 (connection failure/timeout)
    error_message: str = None
    elapsed: float = 0.0
    started: float = field(default_factory=time.time)

    @property
    def ok(self):
        """True when the server answered 2xx."""
        return self.error_code is None

    def to_event(self):
        """The request/response as a timeline event."""
        return {
            "type": "webhook", "url": self.url, "method": self.method, "params": dict(self.params),
            "status": self.status, "content_type": self.content_type, "body": self.body,
            "error_code": self.error_code, "elapsed": round(self.elapsed, 4), "time": self.started,
        }


class WebhookClient:
    """Makes signed, form-encoded webhook requests; one requests.Session per thread."""

    def __init__(self, auth_token, timeout_getter):
        self._validator = RequestValidator(auth_token)
        self._timeout = timeout_getter
        self._local = threading.local()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def sign(self, url, params):
        """The X-Twilio-Signature for a request: HMAC-SHA1 of URL + sorted params (RequestValidator)."""
        return self._validator.compute_signature(url, params)

    def request(self, url, params, *, method="POST"):
        """Request a webhook; never raises, failures are described in the result."""
        method = (method or "POST").upper()
        params = {k: str(v) for k, v in params.items() if v is not None}
        result = WebhookResult(url=url, method=method, params=params)
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Cache-Control": "max-age=259200"}
        start = time.monotonic()
        try:
            if method == "GET":
                # GET webhooks carry the params in the query string; the signature covers the full URL.
                full = url + ("&" if "?" in url else "?") + urlencode(params)
                headers["X-Twilio-Signature"] = self.sign(full, {})
                resp = self._session().get(full, headers=headers, timeout=self._timeout(), allow_redirects=True)
            else:
                headers["X-Twilio-Signature"] = self.sign(url, params)
                resp = self._session().post(url, data=params, headers=headers, timeout=self._timeout(),
                                            allow_redirects=True)
            result.status = resp.status_code
            result.content_type = resp.headers.get("Content-Type", "")
            result.body = resp.text
            if not 200 <= resp.status_code < 300:
                result.error_code = 11200
                result.error_message = f"HTTP retrieval failure: {url} returned {resp.status_code}"
        except requests.Timeout:
            result.error_code = 11205
            result.error_message = f"HTTP connection failure: {url} did not answer within {self._timeout()} s"
        except requests.RequestException as exc:
            result.error_code = 11205
            result.error_message = f"HTTP connection failure: {url}: {exc.__class__.__name__}"
        result.elapsed = time.monotonic() - start
        return result


class OrderedSender:
    """Runs callbacks on a thread pool, one at a time per key, so each call's callbacks arrive in order."""

    def __init__(self, max_workers=32):
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sim-callback")
        self._lock = threading.Lock()
        self._queues = {}

    def submit(self, key, fn):
        """Queue fn behind the earlier work for the same key."""
        with self._lock:
            queue = self._queues.get(key)
            if queue is not None:
                queue.append(fn)
                return
            self._queues[key] = deque()
        try:
            self._pool.submit(self._run, key, fn)
        except RuntimeError:  # shut down: callbacks after the simulator stopped are dropped
            with self._lock:
                self._queues.pop(key, None)

    def _run(self, key, fn):
        while True:
            try:
                fn()
            except Exception:  # a failing callback must not stop the others
                pass
            with self._lock:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    return
                fn = queue.popleft()

    def idle(self):
        """True when no callback is queued or running."""
        with self._lock:
            return not self._queues

    def shutdown(self):
        """Stop accepting work and let running callbacks finish."""
        self._pool.shutdown(wait=False, cancel_futures=True)
