#!/usr/bin/env bash
# Installs the object-store servers that the store tests run against:
# MinIO (S3), fake-gcs-server (GCS) and Azurite (Azure Blob), into
# $FSNAP_TOOLS (default ~/.cache/fsnap/tools), outside the clone.
#
# Idempotent: a server already installed at the pinned version is kept.
# Node/npm (for Azurite) are installed with apt only when missing.
# Package internal/testservers finds the binaries in the same directory.
#
# Usage: .ci/install-test-servers.sh        (all three, MinIO built in parallel)
set -euo pipefail

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
FAKEGCS_VERSION=v1.56.1
AZURITE_VERSION=3.37.0
DUCKDB_NODE_VERSION=1.5.6-r.1 # @duckdb/node-api: the independent Parquet/Arrow reader of the dump tests

TOOLS=${FSNAP_TOOLS:-$HOME/.cache/fsnap/tools}
mkdir -p "$TOOLS"
log() { printf 'install-test-servers: %s\n' "$*" >&2; }

# go_version BIN prints the main module version recorded in a Go binary.
go_version() { go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'; }

# go_tool NAME MODULE VERSION installs MODULE@VERSION as $TOOLS/NAME unless present.
go_tool() {
	local name=$1 module=$2 version=$3
	if [[ -x $TOOLS/$name && $(go_version "$TOOLS/$name") == "$version" ]]; then
		log "$name $version already installed"
		return 0
	fi
	log "installing $name $version (go install)"
	local start=$SECONDS
	GOBIN=$TOOLS GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$module@$version"
	log "$name installed in $((SECONDS - start)) s"
}

azurite() {
	local pkg=$TOOLS/node_modules/azurite/package.json
	if [[ -f $pkg ]] && grep -q "\"version\": \"$AZURITE_VERSION\"" "$pkg"; then
		log "azurite $AZURITE_VERSION already installed"
		return 0
	fi
	if ! command -v npm >/dev/null; then
		log "npm missing: installing nodejs and npm with apt"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
	fi
	log "installing azurite $AZURITE_VERSION (npm)"
	local start=$SECONDS
	# A package.json of our own keeps npm from walking up to a parent project.
	[[ -f $TOOLS/package.json ]] || echo '{"private": true}' >"$TOOLS/package.json"
	npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION"
	log "azurite installed in $((SECONDS - start)) s"
}

duckdb() {
	local pkg=$TOOLS/node_modules/@duckdb/node-api/package.json
	if [[ -f $pkg ]] && grep -q "\"version\": \"$DUCKDB_NODE_VERSION\"" "$pkg"; then
		log "@duckdb/node-api $DUCKDB_NODE_VERSION already installed"
		return 0
	fi
	log "installing @duckdb/node-api $DUCKDB_NODE_VERSION (npm)"
	[[ -f $TOOLS/package.json ]] || echo '{"private": true}' >"$TOOLS/package.json"
	npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "@duckdb/node-api@$DUCKDB_NODE_VERSION"
}

# MinIO is by far the slowest (~6 min cold): build it while the others install.
go_tool minio github.com/minio/minio "$MINIO_VERSION" &
minio_pid=$!
status=0
go_tool fake-gcs-server github.com/fsouza/fake-gcs-server "$FAKEGCS_VERSION" || status=1
azurite || status=1
duckdb || status=1
wait "$minio_pid" || status=1
if ((status != 0)); then
	log "FAILED"
	exit 1
fi
log "all servers in $TOOLS"
