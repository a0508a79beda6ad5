# Sourced by the MinIO benchmarks (listing-minio.sh, inventory-minio.sh):
# builds fsnap and genroot into $bin, starts MinIO on DATA_DIR and $port
# (stopped on exit) and sets the credentials and $url of its bucket
# "bench", prefix ckpt. Expects $data and $port.
tools=${FSNAP_TOOLS:-$HOME/.cache/fsnap/tools}
mkdir -p "$data"
bin=$(mktemp -d)
go build -o "$bin/fsnap" ./cmd/fsnap
go build -o "$bin/genroot" ./scripts/bench/genroot

# Talk to this MinIO only: no CA bundle, profile or endpoint from the caller.
unset AWS_CA_BUNDLE AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_SESSION_TOKEN
export MINIO_ROOT_USER=fsnapbench MINIO_ROOT_PASSWORD=fsnapbench-secret-key
export AWS_ACCESS_KEY_ID=$MINIO_ROOT_USER AWS_SECRET_ACCESS_KEY=$MINIO_ROOT_PASSWORD AWS_REGION=us-east-1

"$tools/minio" server "$data" --address "127.0.0.1:$port" --quiet >"$data.log" 2>&1 &
minio=$!
trap 'kill $minio; wait $minio 2>/dev/null || true; rm -rf "$bin"' EXIT
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$port/minio/health/ready" >/dev/null && break
	sleep 0.3
done
url="s3://bench/ckpt?endpoint=http://127.0.0.1:$port&use_path_style=true&region=us-east-1"

measure() {
	local what=$1
	shift
	/usr/bin/time -f "$what: %e s wall, %U s user, %S s sys, %M KiB max RSS" "$@"
}
