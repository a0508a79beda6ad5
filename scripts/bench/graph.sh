#!/usr/bin/env bash
# Benchmark of fsnap deps / gc / ls over a checkpoint root of 100 retained
# incremental checkpoints × 10,000 shared SSTs (1,005,000 references to
# 35,221 files, 126 MB of _metadata) on local disk: wall time, CPU time and
# peak memory (maximum resident set) of each command.
#
# Usage: scripts/bench/graph.sh [DIR]   (default: a new temporary directory)
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-$(mktemp -d)}/ckpt
bin=$(mktemp -d)
go build -o "$bin/fsnap" ./cmd/fsnap
go build -o "$bin/genroot" ./scripts/bench/genroot
if [[ ! -d $dir ]]; then
	"$bin/genroot" -layout history -root "$dir" -rounds 100 -subtasks 10 -ssts 1000 -churn 0.02
fi
measure() {
	local what=$1
	shift
	/usr/bin/time -f "$what: %e s wall, %U s user, %S s sys, %M KiB max RSS" "$@" >/dev/null
}
for i in 1 2 3; do
	measure "fsnap deps -o json" "$bin/fsnap" deps -o json "$dir"
	measure "fsnap gc (dry run)" "$bin/fsnap" gc "$dir"
	measure "fsnap ls" "$bin/fsnap" ls "$dir"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
