"""Summaries for the whisper: a deterministic built-in one, or an OpenAI-compatible endpoint."""
from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol, Sequence

log = logging.getLogger("handoff.summary")

MAX_WORDS = 45   # a whisper longer than ~15 s of speech loses the recipient


class Summariser(Protocol):
    def summarise(self, transcript: Sequence[dict], *, reason: str | None, prompt: str | None) -> str: ...


def _turns(transcript: Sequence[dict]) -> list[tuple[str, str]]:
    turns = []
    for turn in transcript or ():
        role = str(turn.get("role") or turn.get("speaker") or "caller").lower()
        text = re.sub(r"\s+", " ", str(turn.get("text") or turn.get("content") or "")).strip()
        if text:
            turns.append((role, text))
    return turns


def _clip(text: str, words: int = MAX_WORDS) -> str:
    parts = text.split()
    return text if len(parts) <= words else " ".join(parts[:words]) + "…"


@dataclass(frozen=True)
class BuiltinSummariser:
    """No network: the reason, then what the caller said first and last (their own words)."""

    def summarise(self, transcript: Sequence[dict], *, reason: str | None, prompt: str | None = None) -> str:
        """A short, deterministic summary for the whisper."""
        caller = [text for role, text in _turns(transcript) if role in ("caller", "user", "customer")]
        pieces = []
        if reason:
            pieces.append(f"Reason: {reason.rstrip('.')}.")
        if caller:
            pieces.append(f"The caller said: {caller[0].rstrip('.')}.")
            if len(caller) > 1:
                pieces.append(f"Most recently: {caller[-1].rstrip('.')}.")
        return _clip(" ".join(pieces) or "No conversation summary is available.")


@dataclass(frozen=True)
class OpenAICompatibleSummariser:
    """Chat-completions endpoint (OpenAI, or any compatible server); falls back to the built-in on failure."""

    base_url: str
    api_key: str
    model: str
    timeout: float = 4.0
    fallback: BuiltinSummariser = BuiltinSummariser()

    def summarise(self, transcript: Sequence[dict], *, reason: str | None, prompt: str | None = None) -> str:
        """Ask the model; any error or a slow answer yields the built-in summary instead."""
        system = prompt or ("Summarise this phone conversation for the colleague about to take the call, "
                            "in at most two short sentences they can hear before accepting.")
        lines = "\n".join(f"{role}: {text}" for role, text in _turns(transcript))
        body = json.dumps({"model": self.model, "temperature": 0, "max_tokens": 120,
                           "messages": [{"role": "system", "content": system},
                                        {"role": "user", "content": f"Reason: {reason or 'n/a'}\n{lines}"}]})
        request = urllib.request.Request(f"{self.base_url.rstrip('/')}/chat/completions", data=body.encode(),
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {self.api_key}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
            text = answer["choices"][0]["message"]["content"].strip()
            if not text:
                raise ValueError("empty summary")
            return _clip(text)
        except (OSError, ValueError, KeyError, IndexError, TypeError, urllib.error.URLError) as exc:
            log.warning("summariser fell back to the built-in one: %s", exc)
            return self.fallback.summarise(transcript, reason=reason, prompt=prompt)


def build_summariser(*, base_url: str | None, api_key: str | None, model: str | None,
                     timeout: float) -> Summariser:
    """The configured summariser: OpenAI-compatible when all three LLM settings are present."""
    if base_url and api_key and model:
        return OpenAICompatibleSummariser(base_url=base_url, api_key=api_key, model=model, timeout=timeout)
    return BuiltinSummariser()
