# syntax=docker/dockerfile:1
# mfabot container image.
#
#   docker build -t mfabot:1.0.0 --build-arg VERSION=1.0.0 \
#     --build-arg COMMIT=$(git rev-parse --short HEAD) --build-arg DATE=$(date -u +%FT%TZ) .
#
# SQLite (mattn/go-sqlite3) needs cgo, so the binary links against glibc: the runtime
# stage is Debian slim of the same release as the build stage (bookworm).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
# deploy/packaging_test.go builds mfabot with this line's flags and checks the result.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" -o /out/mfabot ./cmd/mfabot

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 mfabot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/mfabot --create-home --shell /usr/sbin/nologin mfabot \
    && mkdir -p /etc/mfabot \
    && printf '# Mount your mfabot.yaml here (mfabot config example prints one).\n# Every key can also come from the environment; secrets only from there.\n' > /etc/mfabot/mfabot.yaml
COPY --from=build /out/mfabot /usr/local/bin/mfabot
# The database lives on the volume, owned by the unprivileged user the image runs as.
USER 10001:10001
ENV MFABOT_DB=/var/lib/mfabot/mfabot.db \
    MFABOT_LISTEN=:8080
VOLUME /var/lib/mfabot
EXPOSE 8080
# No HEALTHCHECK: the image has no HTTP client. Kubernetes probes /healthz and /readyz
# itself (deploy/kubernetes); elsewhere, probe them from outside.
# SIGTERM lets in-flight Graph calls finish for shutdown_grace (20 s by default): give
# the container longer than that to stop (docker stop -t 30, docker run --stop-timeout 30).
STOPSIGNAL SIGTERM
ENTRYPOINT ["mfabot"]
CMD ["serve", "--config", "/etc/mfabot/mfabot.yaml"]
