# syntax=docker/dockerfile:1
# The AsyncTask image: one `asynctask` binary, run as `asynctask worker` by default.
#   docker build -t asynctask .
#   docker run --rm asynctask --version
#   docker run --rm -e ASYNCTASK_DATABASE_URL=… -v $PWD/worker.yaml:/etc/asynctask/worker.yaml:ro \
#       asynctask worker --config /etc/asynctask/worker.yaml
# Build and runtime stages share the Debian release (bookworm), so libpq5/libcurl4 match what the binary was
# linked against.
ARG SWIFT_VERSION=6.3
ARG DEBIAN_RELEASE=bookworm

# ---- build: the official Swift toolchain image ------------------------------------------------------------
FROM swift:${SWIFT_VERSION}-${DEBIAN_RELEASE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpq-dev libcurl4-openssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Resolve dependencies in their own layer so that source edits do not fetch packages again.
COPY Package.swift ./
RUN swift package resolve
COPY . .
# The same script `make release` runs (scripts/check-deploy.sh fails if this line changes to anything else).
RUN scripts/build-release.sh /out

# ---- runtime: slim Debian with only the shared libraries the binary needs -----------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="asynctask" \
      org.opencontainers.image.description="AsyncTask worker: a transactional outbox on PostgreSQL with a horizontally scalable worker cluster that calls internal HTTP/RPC targets" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.documentation="README.md" \
      org.opencontainers.image.base.name="debian:${DEBIAN_RELEASE}-slim"
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpq5 libcurl4 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 asynctask \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin asynctask
COPY --from=build /out/asynctask /usr/local/bin/asynctask
COPY scripts/container-healthcheck.sh /usr/local/bin/asynctask-healthcheck
# Probes and Prometheus reach the admin server from outside the container, so it listens on every interface
# here (the binary's own default is 127.0.0.1:9090). Override this variable, not the file key: the
# environment wins over the config file.
ENV ASYNCTASK_ADMIN_LISTEN=0.0.0.0:9090
EXPOSE 9090
USER 10001:10001
WORKDIR /tmp
# SIGTERM drains the node: no new claims, in-flight calls get node.shutdown_grace to finish.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 CMD ["asynctask-healthcheck"]
ENTRYPOINT ["asynctask"]
CMD ["worker"]
