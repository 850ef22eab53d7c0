"""Local Twilio voice simulator: REST API, TwiML interpreter, scripted parties, control API."""
