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
data=${1:-/tmp/fsnap-bench-minio}
port=${PORT:-9123}
folders=${FOLDERS:-1000}
files=${FILES:-1000}
source scripts/bench/minio.sh
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Minio RCLONE_CONFIG_BENCH_REGION=us-east-1 \
	RCLONE_CONFIG_BENCH_ENDPOINT=http://127.0.0.1:$port \
	RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY

marker=$data/.fsnap-bench-$folders-$files
if [[ ! -f $marker ]]; then
	rclone mkdir bench:bench
	"$bin/genroot" -layout listing -root "$url" -folders "$folders" -files "$files"
	touch "$marker"
fi

for i in 1 2; do
	measure "fsnap ls --no-metadata" "$bin/fsnap" ls --no-metadata -o json "$url" | grep -c '"name"'
	measure "fsnap ls" "$bin/fsnap" ls -o json "$url" | grep -c '"kind"'
	measure "rclone lsf -R" rclone lsf -R bench:bench/ckpt | wc -l
	measure "rclone lsf -R --fast-list" rclone lsf -R --fast-list bench:bench/ckpt | wc -l
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
