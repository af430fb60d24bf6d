# okrflow in a container: a release build, then a slim runtime with CA certificates (HTTPS to
# Looker, Jira, S3 and Athena), a non-root user, and the job folder mounted at /jobs.
#
#   docker build -t okrflow:latest .
#   docker run --rm -v "$PWD/jobs:/jobs:ro" --env-file okrflow.env okrflow:latest run /jobs/acme.toml
#
# Not built on the project machine (no container runtime or registry there): see README,
# "Running it nightly". The release build takes about 40 minutes on 2 cores.
FROM rust:1.95-slim-bookworm AS build
# make: jemalloc, the binary's allocator, is built from C by its crate.
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin okrflow

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin okrflow
COPY --from=build /src/target/release/okrflow /usr/local/bin/okrflow
USER okrflow
WORKDIR /jobs
ENTRYPOINT ["/usr/local/bin/okrflow"]
CMD ["--help"]
