#!/usr/bin/env bash
# Benchmark of listing a root of 1,000,000 objects on S3 (a local MinIO):
# fsnap ls with and without reading the 1,000 _metadata files, against
# rclone lsf of the same prefix (recursive, by directory and --fast-list).
# Prints wall time, CPU time and peak memory (maximum resident set).
#
# Usage: scripts/bench/listing-minio.sh [DATA_DIR]
#   DATA_DIR keeps MinIO's data between runs (default /tmp/fsnap-bench-minio;
#   writing the million objects takes a while). FOLDERS and FILES change the
#   shape (default 1000 × 1000), PORT the MinIO port (default 9123).
# Needs MinIO from .ci/install-test-servers.sh and rclone (apt-get install rclone).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools=${FSNAP_TOOLS:-$HOME/.cache/fsnap/tools}
data=${1:-/tmp/fsnap-bench-minio}
port=${PORT:-9123}
folders=${FOLDERS:-1000}
files=${FILES:-1000}
mkdir -p "$data"
bin=$(mktemp -d)
go build -o "$bin/fsnap" ./cmd/fsnap
go build -o "$bin/genroot" ./scripts/bench/genroot

# Talk to this MinIO only: no CA bundle, profile or endpoint from the caller.
unset AWS_CA_BUNDLE AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_SESSION_TOKEN
export MINIO_ROOT_USER=fsnapbench MINIO_ROOT_PASSWORD=fsnapbench-secret-key
export AWS_ACCESS_KEY_ID=$MINIO_ROOT_USER AWS_SECRET_ACCESS_KEY=$MINIO_ROOT_PASSWORD AWS_REGION=us-east-1
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Minio RCLONE_CONFIG_BENCH_REGION=us-east-1 \
	RCLONE_CONFIG_BENCH_ENDPOINT=http://127.0.0.1:$port \
	RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY

"$tools/minio" server "$data" --address "127.0.0.1:$port" --quiet >"$data.log" 2>&1 &
minio=$!
trap 'kill $minio; wait $minio 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$port/minio/health/ready" >/dev/null && break
	sleep 0.3
done

url="s3://bench/ckpt?endpoint=http://127.0.0.1:$port&use_path_style=true&region=us-east-1"
marker=$data/.fsnap-bench-$folders-$files
if [[ ! -f $marker ]]; then
	rclone mkdir bench:bench
	"$bin/genroot" -layout listing -root "$url" -folders "$folders" -files "$files"
	touch "$marker"
fi

measure() {
	local what=$1
	shift
	/usr/bin/time -f "$what: %e s wall, %U s user, %S s sys, %M KiB max RSS" "$@"
}
for i in 1 2; do
	measure "fsnap ls --no-metadata" "$bin/fsnap" ls --no-metadata -o json "$url" | grep -c '"name"'
	measure "fsnap ls" "$bin/fsnap" ls -o json "$url" | grep -c '"kind"'
	measure "rclone lsf -R" rclone lsf -R bench:bench/ckpt | wc -l
	measure "rclone lsf -R --fast-list" rclone lsf -R --fast-list bench:bench/ckpt | wc -l
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
