# Handoff's image, for hosts other than Heroku: the Procfile's processes (compose.yaml runs web, worker
# and Redis together).
#   docker build -t handoff .
#   docker run --env-file .env -p 5000:5000 handoff                   # web, the default
#   docker run --env-file .env --no-healthcheck handoff worker        # any Procfile process type
#   docker run --env-file .env handoff flask --app app routing check  # anything else runs as given
# The Python version is the one .python-version names (Heroku's buildpack reads that file; a test keeps
# the two equal). Offline, build on a local Python image: --build-arg PYTHON_IMAGE=<image>.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PORT=5000

# A virtualenv rather than the system site-packages: the same steps work on Debian's Python too (PEP 668).
RUN python -m venv /opt/venv \
    && useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin handoff

WORKDIR /app
# Dependencies before the code: this layer is rebuilt when requirements.txt changes, not on every edit.
# requirements.txt only: the test tools (requirements-dev.txt) stay out of the image.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# The code stays root's and read-only to the service; bytecode is compiled now, since it can't be later.
COPY . .
RUN python -m compileall -q -j 0 /app

USER handoff
EXPOSE 5000

# /healthz is 200 only when Redis answers and a worker and a deadline sweeper were seen recently, so a web
# container without a running worker reports unhealthy: that is the point. (The worker has no HTTP port:
# run it with --no-healthcheck; compose.yaml disables the check there.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '5000'), timeout=4)" > /dev/null || exit 1

# The first argument, when it names a Procfile process type, runs that line of the Procfile (through the
# shell, for its ${VAR:-default}s; extra arguments are appended), so the Procfile stays the one place that
# says how web and worker start. Anything else is run as given. `exec`: the process gets the stop signal.
ENTRYPOINT ["/bin/sh", "-c", "line=$(awk -v t=\"$1\" 'index($0, t \":\") == 1 { print substr($0, length(t) + 2); exit }' Procfile); if [ -n \"$1\" ] && [ -n \"$line\" ]; then shift; eval \"exec $line \\\"\\$@\\\"\"; fi; exec \"$@\"", "procfile"]
CMD ["web"]
