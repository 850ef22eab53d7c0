"""TwiML documents: parsing and strict checking of verbs, nouns and attributes."""

import xml.etree.ElementTree as ET

APP_ERROR_TEXT = "We are sorry, an application error has occurred. Goodbye."

# Attributes per verb/noun, from Twilio's TwiML reference (twilio-python's twilio/twiml/voice_response.py
# builds the same names). "*" entries accept any attribute (nouns whose options evolve quickly).
ATTRIBUTES = {
    "Response": set(),
    "Say": {"voice", "loop", "language"},
    "Play": {"loop", "digits"},
    "Pause": {"length"},
    "Gather": {"input", "action", "method", "timeout", "speechTimeout", "maxSpeechTime", "profanityFilter",
               "finishOnKey", "numDigits", "partialResultCallback", "partialResultCallbackMethod", "language",
               "hints", "bargeIn", "debug", "actionOnEmptyResult", "speechModel", "enhanced"},
    "Dial": {"action", "method", "timeout", "hangupOnStar", "timeLimit", "callerId", "record", "trim",
             "recordingStatusCallback", "recordingStatusCallbackMethod", "recordingStatusCallbackEvent",
             "answerOnBridge", "ringTone", "recordingTrack", "sequential", "referUrl", "referMethod", "events"},
    "Number": {"sendDigits", "url", "method", "statusCallbackEvent", "statusCallback", "statusCallbackMethod",
               "byoc", "machineDetection", "amdStatusCallbackMethod", "amdStatusCallback",
               "machineDetectionTimeout", "machineDetectionSpeechThreshold",
               "machineDetectionSpeechEndThreshold", "machineDetectionSilenceTimeout"},
    "Sip": {"username", "password", "url", "method", "statusCallbackEvent", "statusCallback",
            "statusCallbackMethod", "machineDetection", "amdStatusCallbackMethod", "amdStatusCallback",
            "machineDetectionTimeout", "machineDetectionSpeechThreshold", "machineDetectionSpeechEndThreshold",
            "machineDetectionSilenceTimeout"},
    "Client": {"url", "method", "statusCallbackEvent", "statusCallback", "statusCallbackMethod"},
    "Identity": set(),
    "Conference": {"muted", "beep", "startConferenceOnEnter", "endConferenceOnExit", "waitUrl", "waitMethod",
                   "maxParticipants", "record", "region", "coach", "trim", "statusCallbackEvent",
                   "statusCallback", "statusCallbackMethod", "recordingStatusCallback",
                   "recordingStatusCallbackMethod", "recordingStatusCallbackEvent", "eventCallbackUrl",
                   "jitterBufferSize", "participantLabel"},
    "Redirect": {"method"},
    "Hangup": set(),
    "Reject": {"reason"},
    "Refer": {"action", "method"},
    "Connect": {"action", "method"},
    "Stream": {"name", "connectorName", "url", "track", "statusCallback", "statusCallbackMethod"},
    "ConversationRelay": {"url", "language", "ttsLanguage", "transcriptionLanguage", "ttsProvider", "voice",
                          "transcriptionProvider", "speechModel", "profanityFilter", "dtmfDetection",
                          "welcomeGreeting", "partialPrompts", "welcomeGreetingInterruptible", "interruptible",
                          "preemptible", "hints", "intelligenceService", "reportInputDuringAgentSpeech",
                          "elevenlabsTextNormalization", "interruptSensitivity", "debug"},
    "Parameter": {"name", "value"},
    "Language": {"code", "ttsProvider", "voice", "transcriptionProvider", "speechModel"},
    # Verbs Twilio has that this simulator accepts but does not act on (recorded as "unsupported").
    "Record": None, "Enqueue": None, "Leave": None, "Sms": None, "Start": None, "Stop": None,
    "Echo": None, "Pay": None, "Prompt": None, "Queue": None,
}

CHILDREN = {
    "Response": {"Say", "Play", "Pause", "Gather", "Dial", "Redirect", "Hangup", "Reject", "Refer", "Connect",
                 "Record", "Enqueue", "Leave", "Sms", "Start", "Stop", "Echo", "Pay", "Prompt"},
    "Gather": {"Say", "Play", "Pause"},
    "Dial": {"Number", "Sip", "Client", "Conference", "Queue"},
    "Client": {"Identity", "Parameter"},
    "Refer": {"Sip"},
    "Connect": {"Stream", "ConversationRelay"},
    "Stream": {"Parameter"},
    "ConversationRelay": {"Parameter", "Language"},
}


class TwimlError(Exception):
    """A document Twilio would refuse: code 12100 (parse/unknown verb) or 12200 (schema)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def parse(text, *, strict):
    """Parse a TwiML document into its <Response> element, checking verbs, nouns and attributes."""
    try:
        root = ET.fromstring(text.strip().encode("utf-8"))
    except ET.ParseError as exc:
        raise TwimlError(12100, f"Document parse failure: {exc}") from None
    if root.tag != "Response":
        raise TwimlError(12100, f"Document parse failure: root element is <{root.tag}>, expected <Response>")
    _check(root, strict=strict)
    return root


def _check(element, *, strict):
    allowed_children = CHILDREN.get(element.tag, set())
    for child in element:
        if child.tag not in ATTRIBUTES or child.tag not in allowed_children:
            raise TwimlError(12100, f"Document parse failure: <{child.tag}> is not allowed inside <{element.tag}>")
        known = ATTRIBUTES[child.tag]
        if known is not None:
            unknown = sorted(set(child.attrib) - known)
            # Twilio only warns (12200) about unknown attributes; strict mode fails so typos surface in tests.
            if unknown and strict:
                raise TwimlError(12200, f"Schema validation warning: <{child.tag}> has unknown attribute(s) {', '.join(unknown)}")
        _check(child, strict=strict)


def boolean(value, default=False):
    """A TwiML boolean attribute."""
    if value is None:
        return default
    return str(value).strip().lower() == "true"


def integer(value, default):
    """A TwiML integer attribute (falls back to the default when absent or malformed)."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def text(element):
    """The stripped text content of an element."""
    return (element.text or "").strip()
