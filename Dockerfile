# Build stage: SQLite (with the compile options in .cargo/config.toml), libpq and OpenSSL
# are compiled into the binary; the image has perl and make for OpenSSL's build.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY src src
COPY migrations migrations
COPY scim-schemas scim-schemas
RUN cargo build --release --locked --bin scimd && strip target/release/scimd

# Runtime stage: just the binary (and CA certificates for TLS to PostgreSQL).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /data scimd && mkdir -p /data && chown scimd /data
COPY --from=build /src/target/release/scimd /usr/local/bin/scimd
USER scimd
WORKDIR /data
ENV SCIMD_BIND=0.0.0.0:8080 SCIMD_DATABASE_URL=sqlite:///data/scimd.db
EXPOSE 8080
ENTRYPOINT ["scimd"]
CMD ["serve"]
