"""What a screened recipient hears about the caller: prepared once, by a worker, before dialing."""
from __future__ import annotations

from ..placeholders import fill, runtime_values
from ..record import Transfer
from ..changes import Change
from . import chain
from .context import Context

DEFAULT_REASON = "their request"     # so "about <reason>" still reads naturally when none was given


def placeholder_values(ctx: Context, t: Transfer, *, summary: str = "", history: str = "") -> dict[str, str]:
    """Every placeholder a whisper, message or summary prompt may use, for this transfer."""
    recipient = next((x.recipient for x in t.current.targets if x.recipient), None) if t.attempts else None
    return runtime_values(call=ctx.store.get_call(t.call_sid), call_sid=t.call_sid, reason=t.reason or DEFAULT_REASON,
                          summary=summary or t.summary, variables=t.variables,
                          call_variables=ctx.store.get_call_variables(t.call_sid), recipient=recipient,
                          transcript=t.context.get("transcript") or [], history=history)


def prepare_whisper(ctx: Context, t: Transfer) -> Transfer:
    """Compute the whisper once per step (the LLM summariser may be slow, and runs once: webhooks must not
    wait for it); each step's recipient has its own whisper template."""
    step = str(t.current.step)
    # Transfers stored before whispers were per step have no `whisper_for`: theirs stands.
    if t.whisper and t.fields.get("whisper_for", step) == step:
        return t
    settings = t.leg_settings
    summary = t.summary
    transcript = t.context.get("transcript") or []
    # A chained transfer's recipient hears the earlier ones in brief ("Earlier: billing declined."): after
    # the summary, unless their whisper places <history> itself. Only ever heard once a human has accepted
    # to hear it (the whisper's own rule: consent before content).
    earlier = chain.history_sentence(chain.history(ctx.store, t)) if t.fields.get("previous_id") else ""
    if not summary and transcript:
        prompt = fill(settings.summary_prompt, placeholder_values(ctx, t, history=earlier)) \
            if settings.summary_prompt else None
        summary = ctx.summariser.summarise(transcript, reason=t.reason or None, prompt=prompt)
    spoken = summary if not earlier or "<history>" in (settings.whisper or "") else f"{summary} {earlier}".strip()
    values = placeholder_values(ctx, t, summary=spoken, history=earlier)
    if settings.whisper:
        whisper = " ".join(fill(settings.whisper, values).split())
    else:
        whisper = "Incoming transfer from the AI assistant."
        if t.reason:
            whisper += f" The caller needs help with {t.reason.rstrip('.')}."
        if spoken:
            whisper += f" {spoken}"
    result = ctx.store.apply(t.id, t.call_sid, Change(event={"event": "whisper-prepared", "text": whisper},
                                                      fields={"whisper": whisper, "summary": summary,
                                                              "whisper_for": step}))
    return result.transfer if result and result.applied else t
