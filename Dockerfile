# syntax=docker/dockerfile:1
# The image runs every process of the stack (docker-compose.yml, deploy/kubernetes/): the
# same wheel users install, nothing else from this repository. Schedules are not baked in:
# mount them (compose) or let CI apply them (the image's `syncd` needs only the files).

# --- build: an sdist, then the wheel from it (what `python -m build` does) -------------
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir "build>=1.2"
COPY pyproject.toml README.md ./
COPY syncd ./syncd
COPY celeryapp ./celeryapp
RUN python -m build --outdir /dist .

# --- runtime: the installed wheel in a venv, run by a user without privileges ----------
FROM python:3.11-slim AS runtime
# git (and ssh for ssh:// remotes) for `syncd serve`, which fetches with the git binary.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin syncd \
    && install -d -o syncd -g syncd /app
COPY --from=build /dist/*.whl /tmp/wheels/
RUN python -m venv /opt/syncd \
    && /opt/syncd/bin/pip install --no-cache-dir /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels
ENV PATH=/opt/syncd/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER syncd
WORKDIR /app
# Unhealthy when the database (or Redis, when set) cannot be reached with this container's
# settings (`syncd status` exits 3). Its other verdicts (no leader, drift) are about the
# whole deployment, not this container. Compose and Kubernetes add closer checks.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD syncd status --format json > /dev/null; test $? -ne 3
CMD ["syncd", "--help"]
