# Production image: release build without the sandbox, run as an unprivileged user.
#   docker build -t fanvue-app-starter .
#   docker run --env-file .env -p 3001:3001 -v $PWD/certs:/app/certs fanvue-app-starter
# No secret is baked in: configuration comes from the environment at run time.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml clippy.toml ./
COPY src src
COPY templates templates
COPY static static
# Declared in Cargo.toml, so cargo looks for them even when building only the binary.
COPY benches benches
RUN cargo build --release --locked --no-default-features --bin fanvue-app-starter

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir -p /app/data /app/certs \
 && chown -R app:app /app
COPY --from=build /src/target/release/fanvue-app-starter /usr/local/bin/fanvue-app-starter
WORKDIR /app
USER app
ENV BIND_ADDRESS=0.0.0.0 \
    PORT=3001 \
    SESSION_STORE=sqlite:///app/data/sessions.db
EXPOSE 3001
VOLUME ["/app/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["fanvue-app-starter", "--healthcheck"]
ENTRYPOINT ["fanvue-app-starter"]
