"""How a number takes an SMS (its persona's `sms`), and the status callbacks Twilio sends for a message.

A persona's `sms` says what happens to a message sent to its address:

- `delivers` (the default): accepted (`queued`), then `sent` and `delivered`, each with a status callback;
- `unsubscribed` (21610), `region-not-enabled` (21408), `not-mobile` (21614): Messages.create answers 400
  with that code, as Twilio does, and no message exists;
- `landline`: accepted, `sent`, then `undelivered` with ErrorCode 30006 (Twilio learns it from the carrier
  afterwards, so only the status callback and the resource tell).

The callbacks carry what Twilio's do (AccountSid, ApiVersion, MessageSid, SmsSid, MessageStatus,
SmsStatus, From, To, and ErrorCode on undelivered/failed), signed, after callback_delay (+ jitter) each,
in order per message.
"""

import time

from simulator.model import API_VERSION

# Refused at create: the 400 Twilio answers (https://www.twilio.com/docs/api/errors/<code>).
REFUSALS = {
    "unsubscribed": (21610, "Attempt to send to unsubscribed recipient"),
    "region-not-enabled": (21408, "Permission to send an SMS has not been enabled for the region indicated "
                                  "by the 'To' number: {to}"),
    "not-mobile": (21614, "'To' number is not a valid mobile number"),
}
# Accepted, then reported undelivered by the status callback.
UNDELIVERED = {"landline": (30006, "Landline or unreachable carrier")}
BEHAVIOURS = ("delivers", *REFUSALS, *UNDELIVERED)
STEP_SECONDS = 0.05        # at least this between one status and the next (a carrier takes its time)


def refusal(persona, to):
    """(code, message) when the recipient's persona refuses messages at create, else None."""
    found = REFUSALS.get(getattr(persona, "sms", None) or "")
    return (found[0], found[1].format(to=to)) if found else None


def deliver(sim, message, persona):
    """Move an accepted message through sent to its final status, a status callback for each."""
    from simulator.delivery import callback_delay   # here: delivery -> faults -> parties imports this module
    failure = UNDELIVERED.get(getattr(persona, "sms", None) or "")
    final = "undelivered" if failure else "delivered"

    def step(status):
        with sim.lock:
            message.status = status
            message.date_updated = time.time()
            if status == "sent":
                message.date_sent = message.date_updated
            if status == final and failure:
                message.error_code, message.error_message = failure
        if message.status_callback:
            params = {"AccountSid": message.account_sid, "ApiVersion": API_VERSION, "MessageSid": message.sid,
                      "SmsSid": message.sid, "MessageStatus": status, "SmsStatus": status, "From": message.from_,
                      "To": message.to}
            if status in ("undelivered", "failed"):
                params["ErrorCode"] = str(message.error_code)
            sim.sender.submit(message.sid, lambda: sim.webhooks.request(message.status_callback, params))

    sent_after = STEP_SECONDS + callback_delay(sim)
    sim.scheduler.after(sent_after, lambda: step("sent"))
    sim.scheduler.after(sent_after + STEP_SECONDS + callback_delay(sim), lambda: step(final))
