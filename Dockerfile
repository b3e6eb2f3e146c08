# syntax=docker/dockerfile:1.7
# Production image: release build without the sandbox, run as an unprivileged user (uid 10001).
#   docker build -t fanvue-app-starter .
#   docker run --env-file .env -p 3001:3001 -v "$PWD/certs:/app/certs:ro" -v fanvue-data:/app/data fanvue-app-starter
# The certificate files must be readable by uid 10001: `chmod 644 certs/<host>.pem` for the
# certificate, `sudo chown 10001 certs/<host>-key.pem` for the key (keep it 0600), or terminate
# TLS in a proxy. CI builds and runs this file with buildah: scripts/container-check.
# No secret is baked in: configuration comes from the environment at run time. In `--env-file`,
# values are taken literally: no quotes, lists with commas (OAUTH_SCOPES=read:self,read:chat).

# A pinned toolchain: the same compiler as CI, whatever day the image is built.
FROM rust:1.95.0-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml clippy.toml ./
# The workspace's crates (the sandbox's manifest is read, though a production build leaves it out).
COPY crates crates
COPY src src
COPY templates templates
COPY static static
# Declared in Cargo.toml, so cargo looks for them even when building only the binary.
COPY benches benches
# BuildKit cache mounts keep the registry and the compiled dependencies between builds, so a
# change to the app's code rebuilds the app only (minutes, not the whole dependency tree).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --no-default-features --bin fanvue-app-starter \
 && cp target/release/fanvue-app-starter /usr/local/bin/fanvue-app-starter

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir -p /app/data /app/certs \
 && chown -R app:app /app
COPY --from=build /usr/local/bin/fanvue-app-starter /usr/local/bin/fanvue-app-starter
WORKDIR /app
USER 10001:10001
ENV BIND_ADDRESS=0.0.0.0 \
    PORT=3001 \
    SESSION_STORE=sqlite:///app/data/sessions.db
EXPOSE 3001
VOLUME ["/app/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["fanvue-app-starter", "--healthcheck"]
ENTRYPOINT ["fanvue-app-starter"]
