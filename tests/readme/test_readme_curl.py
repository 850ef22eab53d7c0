"""Every curl line of the README that talks to a running Handoff runs as written against `make run`,
at any hour: the README's blocks, in order, in one bash session, against the stack `make run` starts,
its clock set to Sunday 22:00 in New York (every office closed)."""
from __future__ import annotations

import re
import subprocess

import pytest

from devtools.embedded_redis import free_port
from devtools.local_stack import LocalStack
from tests.conftest import ROOT

SUNDAY_NIGHT = "2026-11-22T22:00:00-05:00"
# curl fails on any HTTP error (and says so); a live stream (-N) is cut after a few seconds, as a
# reader's Ctrl-C would, and counts as run when it printed something.
PRELUDE = r"""
set -eo pipefail
curl() {
  case " $* " in
    *" -sN "*) local out; out=$(command curl --fail-with-body --max-time 3 "$@") || [ $? -eq 28 ]
               [ -n "$out" ] || { echo "README: the live stream printed nothing: curl $*" >&2; return 1; }
               printf '%s\n' "$out" ;;
    *) command curl --fail-with-body "$@"; echo ;;
  esac
}
"""


def readme_blocks() -> list[str]:
    """The README's ```sh blocks that talk to a running Handoff (they use $API or devtools/local.sh)."""
    blocks = re.findall(r"^```sh\n(.*?)^```", (ROOT / "README.md").read_text(), re.S | re.M)
    return [b for b in blocks if "$API" in b or "devtools/local.sh" in b]


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    """What `make run` starts, with examples/recipients.yaml, its clock frozen on a closed hour."""
    var = tmp_path_factory.mktemp("readme-var")
    with open(var / "stack.log", "w") as log:
        stack = LocalStack(var, env={"HANDOFF_CLOCK": SUNDAY_NIGHT, "API_TOKEN": "", "REDIS_URL": "",
                                     "PROMETHEUS_MULTIPROC_DIR": "", "TRANSFER_CONFIG": ""},
                           port=free_port(), sim_port=free_port(), redis_port=free_port(), output=log)
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()


def test_the_readme_finds_its_curl_blocks():
    blocks = readme_blocks()
    assert len(blocks) >= 5 and "devtools/local.sh" in blocks[0], blocks[:1]


def test_every_readme_curl_line_runs_against_make_run_at_any_hour(local_stack):
    script = PRELUDE + "\n".join(readme_blocks())
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=240,
                          env={**local_stack.env, "HANDOFF_VAR_DIR": str(local_stack.var_dir)})
    assert done.returncode == 0, f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
    # "Try a transfer": the supervisor accepted, and each party's own audio was read back.
    assert "transfer-success" in done.stdout.splitlines()[:4] or "\ntransfer-success\n" in done.stdout
    assert "Please hold while I connect you." in done.stdout       # the caller's hold
    assert "Call from Acme Outdoor about refund." in done.stdout   # the supervisor's whisper
    # The transfers that pass "at" were routed on Monday morning, though the service's clock says Sunday night.
    assert "transfer_refused" not in done.stdout and '"clock_at":"2026-11-23T10:00:00-05:00"' in done.stdout
