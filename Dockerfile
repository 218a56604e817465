# syntax=docker/dockerfile:1
# One image for the four services; each Kubernetes Deployment picks its service with its
# command: ["python", "-m", "services.<registry|pool|dispatcher|gateway>"].
#
#   docker build -t lingua-scheduler:dev .
#
# The source runs from /app as it does from a checkout (lingua_common finds lua/ beside
# itself, the generated protos are imported from gen/), so the project itself is not
# pip-installed: only its runtime dependencies are, from pyproject.toml.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv with the runtime dependencies, and byte-compiled sources -------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# A venv without pip: the image's pip installs into it, and nothing to install packages
# with is left in the final stage.
RUN python -m venv --without-pip /opt/venv
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c "import tomllib; deps = tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
 && python -m pip --python /opt/venv/bin/python install --only-binary=:all: -r /tmp/requirements.txt
WORKDIR /app
COPY lingua_common ./lingua_common
COPY services ./services
COPY gen ./gen
COPY lua ./lua
# The root filesystem is read-only at run time: compile now, never at import.
RUN python -m compileall -q -j 0 /app

# --- run: the interpreter, the venv and the sources; no compiler, no pip in the venv ----------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 lingua \
 && useradd --system --uid 10001 --gid lingua --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin lingua
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/gen \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LINGUA_HOST=0.0.0.0 \
    LINGUA_WS_HOST=0.0.0.0
# Numeric, so that Kubernetes can verify runAsNonRoot.
USER 10001:10001
# WebSocket (gateway), then the default gRPC and metrics ports: registry, pool,
# dispatcher, gateway.
EXPOSE 5010 50051 50052 50053 50054 9101 9102 9103 9104
# No default service: the Deployment's command chooses one.
