# fsnap: Apache Flink checkpoint and savepoint storage toolkit, no JVM.
#
#   docker build -t fsnap .
#   docker run --rm -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_REGION \
#       fsnap inspect s3://bucket/flink/savepoints/savepoint-1a2b3c
#
# Built with RocksDB (Debian's librocksdb, through cgo) so that every
# command works, including inspect --rocksdb and migrate to-canonical.
# scripts/docker-test builds and tests this file unchanged.

FROM golang:1.26-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ librocksdb-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/fsnap ./cmd/fsnap \
 && /out/fsnap version

FROM debian:bookworm-slim
ARG VERSION=dev
LABEL org.opencontainers.image.title="fsnap" \
      org.opencontainers.image.description="Inspect, verify, clean up and relocate Apache Flink checkpoints and savepoints without a JVM" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/fsnap/fsnap" \
      org.opencontainers.image.base.name="debian:bookworm-slim"
# The RocksDB runtime library (and the compression libraries it links) and
# CA certificates for the object stores' TLS endpoints.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates librocksdb7.8 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /home/fsnap fsnap
COPY --from=build /out/fsnap /usr/local/bin/fsnap
USER 10001:10001
WORKDIR /home/fsnap
ENTRYPOINT ["fsnap"]
CMD ["help"]
