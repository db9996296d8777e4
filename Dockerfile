# syntax=docker/dockerfile:1
# mfabot: multi-stage build. SQLite (mattn/go-sqlite3) needs cgo, so the runtime image has
# glibc (Debian slim), and the binary runs as an unprivileged user with the database on a
# volume.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
# Keep this line in sync with TestDockerfileBuild (cmd/mfabot/packaging_test.go).
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" -o /out/mfabot ./cmd/mfabot

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/mfabot --create-home mfabot
COPY --from=build /out/mfabot /usr/local/bin/mfabot
USER 10001:10001
ENV MFABOT_DB=/var/lib/mfabot/mfabot.db MFABOT_LISTEN=:8080
VOLUME /var/lib/mfabot
EXPOSE 8080
ENTRYPOINT ["mfabot"]
CMD ["serve", "--config", "/etc/mfabot/mfabot.yaml"]
