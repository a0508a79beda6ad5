#!/usr/bin/env bash
# Benchmark of fsnap inventory over a root of 10,000 small checkpoints on S3
# (a local MinIO), against fsnap ls of the same root in the same run: the
# inventory reads every _metadata (16 at once) and writes its Parquet
# tables; ls lists the folders and reads every _metadata for the kind.
# Prints wall time, CPU time and peak memory (maximum resident set).
#
# Usage: scripts/bench/inventory-minio.sh [DATA_DIR]
#   DATA_DIR keeps MinIO's data between runs (default
#   /tmp/fsnap-bench-inventory-minio). SNAPSHOTS and JOBS change the shape
#   (default 10000 checkpoints of 7 objects over 100 job folders:
#   genroot -layout snapshots), PARALLEL the inventory's --parallel (16),
#   PORT the MinIO port (default 9127).
# Needs MinIO from .ci/install-test-servers.sh and curl (7.75+, for --aws-sigv4).
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-/tmp/fsnap-bench-inventory-minio}
port=${PORT:-9127}
snapshots=${SNAPSHOTS:-10000}
jobs=${JOBS:-100}
parallel=${PARALLEL:-16}
source scripts/bench/minio.sh

marker=$data/.fsnap-bench-$snapshots-$jobs
if [[ ! -f $marker ]]; then
	curl -fsS -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		"http://127.0.0.1:$port/bench" || true # exists already after an interrupted run
	"$bin/genroot" -layout snapshots -root "$url" -snapshots "$snapshots" -jobs "$jobs"
	touch "$marker"
fi

for i in 1 2; do
	out=$(mktemp -d)
	measure "fsnap inventory --parallel $parallel" "$bin/fsnap" inventory --parallel "$parallel" -o parquet --out "$out" "$url"
	rm -rf "$out"
	measure "fsnap ls" "$bin/fsnap" ls -o json "$url" | grep -c '"kind"'
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
