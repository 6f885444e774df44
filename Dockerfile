# One image for every ticketflow service; the entrypoint is the `ticketflow` CLI:
#   docker build -t ghcr.io/ticketflow/ticketflow:0.1.0 .
#   docker run --rm ghcr.io/ticketflow/ticketflow:0.1.0 --help
#   docker run ... ghcr.io/ticketflow/ticketflow:0.1.0 intake serve --host 0.0.0.0
# The base is pinned to an exact Python patch release on Debian bookworm; pin it by digest
# as well in your registry mirror (`python:3.11.14-slim-bookworm@sha256:...`).

# --- build: wheels for the project and its runtime dependencies (compilers live only here)
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip wheel --wheel-dir /wheels .

# --- runtime: the wheels installed, no build tools, an unprivileged user
FROM python:3.11.14-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TICKETFLOW_POLICY_DIR=/app/policies TICKETFLOW_ENVIRONMENT=production
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels ticketflow \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 ticketflow \
    && useradd --system --uid 10001 --gid ticketflow --home-dir /app --shell /usr/sbin/nologin ticketflow
WORKDIR /app
COPY --chown=root:root policies ./policies
USER 10001:10001
EXPOSE 8080 8081 8082 8083
ENTRYPOINT ["ticketflow"]
CMD ["--help"]
