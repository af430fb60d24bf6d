# okrflow in a container: a release build, then a slim runtime with CA certificates (HTTPS to
# Looker, Jira, S3 and Athena), a non-root user, and the job folder mounted at /jobs.
#
#   docker build -t okrflow:latest .
#   docker run --rm -v "$PWD/jobs:/jobs:ro" --env-file okrflow.env okrflow:latest run /jobs/acme.toml
#
# The release build takes about 40 minutes on 2 cores from nothing. Its crates and build folder
# are cache mounts (BuildKit, podman/buildah), so a rebuild after a change to okrflow's own code
# should recompile only okrflow (not timed on the project machine). On a machine with no
# registry, docker/local-images.sh makes the two base images from Debian's packages; docs/operations.md, "Running it nightly", says what was built here.
FROM rust:1.95-slim-bookworm AS build
# make: jemalloc, the binary's allocator, is built from C by its crate.
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The binary is copied out of the cached target folder, which is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin okrflow \
 && cp target/release/okrflow /usr/local/bin/okrflow

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin okrflow
COPY --from=build /usr/local/bin/okrflow /usr/local/bin/okrflow
USER okrflow
WORKDIR /jobs
ENTRYPOINT ["/usr/local/bin/okrflow"]
CMD ["--help"]
