# Functions shared by scripts/docker-test and scripts/release (sourced):
# start dockerd when none answers, and make the base images of the
# Dockerfile locally when missing (no image registry is reachable here).
# The caller defines log, skip and CACHE, MIRROR.

sudo=
[[ $(id -u) -ne 0 ]] && sudo=sudo

# apt_install PKG... installs the Debian packages that are missing.
apt_install() {
	local missing=()
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	log "installing ${missing[*]} (apt)"
	$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

dockerd_pid=
stop_dockerd() {
	if [[ -n $dockerd_pid ]]; then
		log "stopping the dockerd it started (pid $dockerd_pid)"
		$sudo kill "$dockerd_pid" 2>/dev/null || true
		wait "$dockerd_pid" 2>/dev/null || true
	fi
}
trap stop_dockerd EXIT

ensure_docker() {
	command -v dpkg >/dev/null || skip "not a Debian system (no dpkg)"
	apt_install docker.io debootstrap || skip "cannot install docker.io and debootstrap with apt"
	if docker info >/dev/null 2>&1; then
		return 0
	fi
	mkdir -p "$CACHE"
	log "starting dockerd (no bridge, no iptables; log in $CACHE/dockerd.log)"
	$sudo dockerd --iptables=false --ip6tables=false --bridge=none >"$CACHE/dockerd.log" 2>&1 &
	dockerd_pid=$!
	for _ in $(seq 60); do
		docker info >/dev/null 2>&1 && return 0
		kill -0 "$dockerd_pid" 2>/dev/null || break
		sleep 0.5
	done
	tail -n 5 "$CACHE/dockerd.log" >&2 || true
	dockerd_pid=
	skip "dockerd does not start here (see the log lines above)"
}

# base_debian makes debian:bookworm-slim from a minimal debootstrap of
# bookworm, slimmed as Debian's own image is (no docs, man pages, apt lists).
base_debian() {
	docker image inspect debian:bookworm-slim >/dev/null 2>&1 && return 0
	local tar=$CACHE/bookworm-minbase.tar
	if [[ ! -s $tar ]]; then
		local rootfs=$CACHE/rootfs.tmp
		$sudo rm -rf "$rootfs"
		log "debootstrap bookworm from $MIRROR (about 2 minutes)"
		$sudo debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
			{ tail -n 5 "$CACHE/debootstrap.log" >&2; skip "debootstrap failed"; }
		$sudo rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
			"$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
		$sudo tar -C "$rootfs" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
		$sudo rm -rf "$rootfs"
	fi
	log "docker import debian:bookworm-slim"
	docker import --change 'CMD ["bash"]' "$tar" debian:bookworm-slim >/dev/null
}

# base_golang makes golang:1.26-bookworm: bookworm with the C toolchain of
# Docker's official image and the Go toolchain of this machine (1.26.x).
# It trusts the CA certificates this machine added to its own trust store
# (/usr/local/share/ca-certificates: a TLS-intercepting egress proxy, say),
# so that the build's `go mod download` reaches the Go module proxy.
base_golang() {
	docker image inspect golang:1.26-bookworm >/dev/null 2>&1 && return 0
	local goroot gover ctx
	goroot=$(go env GOROOT)
	gover=$(go env GOVERSION)
	[[ $gover == go1.26* ]] || skip "the local Go is $gover, not 1.26: cannot make golang:1.26-bookworm"
	ctx=$(mktemp -d)
	cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev make pkg-config git \\
 && rm -rf /var/lib/apt/lists/*
COPY local-ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
COPY go /usr/local/go
ENV GOLANG_VERSION=${gover#go} GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /go
DOCKERFILE
	mkdir -p "$ctx/local-ca"
	cp /usr/local/share/ca-certificates/*.crt "$ctx/local-ca/" 2>/dev/null || true
	log "building golang:1.26-bookworm from debian:bookworm-slim and $goroot ($gover)"
	tar -c -C "$ctx" Dockerfile local-ca -C "$(dirname "$goroot")" --transform "s,^$(basename "$goroot"),go," \
		--exclude="$(basename "$goroot")/pkg/obj" --exclude="$(basename "$goroot")/test" "$(basename "$goroot")" |
		docker build -q --network host -t golang:1.26-bookworm - >/dev/null
	rm -rf "$ctx"
}

