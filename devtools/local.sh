# Source this from the repo root while `make run` runs:  . devtools/local.sh
# It sets what the README's curl lines use, from the environment make run wrote to var/local.env:
#   API, AUTH (the bearer header with make run's API token), SIM (the simulator's user:password),
#   SIM_URL, and two helpers:
#   new_call [FROM]      a scripted caller phones the agent's number; prints the call's SID once the
#                        agent has it (FROM sip:... places a SIP call, so REFER works)
#   wait_outcome ID      waits (60 s at most) until transfer ID has its outcome, and prints it
_handoff_env="${HANDOFF_VAR_DIR:-var}/local.env"
[ -f "$_handoff_env" ] || { echo "devtools/local.sh: no $_handoff_env: is make run running (from this directory)?" >&2; return 1; }
# Only what the curl lines need, read in a subshell: nothing else of make run's environment leaks into yours.
API_TOKEN=$(. "$_handoff_env"; echo "$API_TOKEN")
API=$(. "$_handoff_env"; echo "$PUBLIC_BASE_URL")/api
AUTH="Authorization: Bearer $API_TOKEN"
SIM=$(. "$_handoff_env"; echo "$TWILIO_ACCOUNT_SID:$TWILIO_AUTH_TOKEN")
SIM_URL=$(. "$_handoff_env"; echo "$SIM_URL")
AGENT_NUMBER=${AGENT_NUMBER:-+15005550006}

new_call() {
  local from=${1:-+14155550123} sip=false sid activity i
  case $from in sip:*) sip=true ;; esac
  sid=$(curl -s -u "$SIM" -H 'Content-Type: application/json' \
    -d "{\"from\": \"$from\", \"to\": \"$AGENT_NUMBER\", \"sip\": $sip}" "$SIM_URL/sim/calls" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["sid"])') || return 1
  for i in $(seq 100); do
    activity=$(curl -s -u "$SIM" "$SIM_URL/sim/calls/$sid" | python3 -c 'import json,sys; print(json.load(sys.stdin)["activity"])')
    [ "$activity" = with-agent ] && { echo "$sid"; return 0; }
    sleep 0.1
  done
  echo "new_call: $sid never reached the agent (activity: $activity)" >&2
  return 1
}

wait_outcome() {
  local outcome i
  for i in $(seq 120); do
    outcome=$(curl -s -H "$AUTH" "$API/transfers/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("outcome") or "")')
    [ -n "$outcome" ] && { echo "$outcome"; return 0; }
    sleep 0.5
  done
  echo "wait_outcome: transfer $1 has no outcome after 60 s" >&2
  return 1
}
