#!/usr/bin/env bash
# Makes, without a container registry, the two base images the Dockerfile names:
#   debian:bookworm-slim     a minimal Debian 12 made by debootstrap from Debian's packages;
#   rust:1.95-slim-bookworm  that, with gcc, this machine's Rust 1.95 toolchain (rustup's
#                            stable one) where the official image keeps it, and this machine's
#                            own CA certificates (/usr/local/share/ca-certificates: a proxy that
#                            re-signs crates.io's certificate, say), so cargo in the build
#                            trusts what cargo on the machine trusts.
# Then `podman build -t okrflow:latest .` builds the project's image as it would with the
# registry's images. Needs root, debootstrap and podman (Debian: apt-get install debootstrap
# podman runc). docs/operations.md, "Running it nightly", says what was built with it and how long it took.
#
# Usage: docker/local-images.sh [WORK_DIR]   (default /tmp/okrflow-images; about 1.5 GB)
# An image that exists is kept; REBUILD_RUST=1 makes the Rust one again.
set -euo pipefail
work=${1:-/tmp/okrflow-images}
toolchain=$(rustup toolchain list | awk '/^stable/ { print $1 }')
version=$(rustc +stable --version | awk '{ print $2 }')
case "$version" in
  1.95.*) ;;
  *) echo "local-images: stable Rust is $version; the Dockerfile builds with rust:1.95" >&2; exit 1 ;;
esac
mkdir -p "$work"

if ! podman image exists docker.io/library/debian:bookworm-slim; then
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  tar -C "$work/rootfs" -c . | podman import - docker.io/library/debian:bookworm-slim
fi

if [ -n "${REBUILD_RUST:-}" ] || ! podman image exists docker.io/library/rust:1.95-slim-bookworm; then
  ctx="$work/rust"
  rm -rf "$ctx" && mkdir -p "$ctx/rustup/toolchains" "$ctx/cargo"
  cp -a "$(rustup toolchain list -v | awk '/^stable/ { print $NF }')" \
    "$ctx/rustup/toolchains/$toolchain"
  printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\n' "$toolchain" \
    > "$ctx/rustup/settings.toml"
  cp -a "$HOME/.cargo/bin" "$ctx/cargo/bin"
  mkdir -p "$ctx/ca"
  cp /usr/local/share/ca-certificates/*.crt "$ctx/ca/" 2>/dev/null || true
  cat > "$ctx/Containerfile" <<'EOS'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY ca /usr/local/share/ca-certificates
RUN update-ca-certificates
COPY rustup /usr/local/rustup
COPY cargo /usr/local/cargo
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN cargo --version && rustc --version
EOS
  podman build --network host -t docker.io/library/rust:1.95-slim-bookworm "$ctx"
fi
podman images
