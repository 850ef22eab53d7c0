"""Transfer scenarios: YAML files that say what each party does and what must happen, run against
the real service, its workers and the Twilio simulator (`python -m devtools.scenarios run PATH...`).
The format is in README.md next to this file."""
