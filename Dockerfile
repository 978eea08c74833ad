# dbdeck as a small static image for operator mode (`dbdeck --headless`, see deploy/operator.yaml).
#   docker build -t dbdeck:dev .            or, straight into minikube:   minikube image build -t dbdeck:dev .
#
# Build stage: Alpine's Rust targets musl, so the binary is static (rustls with ring; no OpenSSL, no glibc).
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev gcc
WORKDIR /src
# Dependencies first, so editing dbdeck's own sources does not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
COPY themes ./themes
COPY deploy/examples ./deploy/examples
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin dbdeck \
    && strip target/release/dbdeck \
    && target/release/dbdeck --version

# Runtime stage: no shell, no package manager, a non-root user (65532, "nonroot").
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/release/dbdeck /usr/local/bin/dbdeck
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/dbdeck"]
CMD ["--headless", "--log-format=json"]
