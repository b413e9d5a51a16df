# tailerd and replayer in a small image: static binaries (CGO_ENABLED=0) on
# distroless/static, which has CA certificates, tzdata and a non-root user, and
# no shell. Build: docker build -t tidelog .
#
# Run with a config file (deploy/tailerd.yaml; its ${VAR}s come from -e or --env-file, and
# inside a container the metrics endpoint must listen on every interface: http_addr: 0.0.0.0:9464):
#   docker run -v tidelog:/var/lib/tidelog -v /etc/tidelog:/etc/tidelog:ro --env-file tailerd.env \
#       -p 127.0.0.1:9464:9464 tidelog --config /etc/tidelog/tailerd.yaml
# Restore with the same image: docker run --entrypoint /usr/local/bin/replayer tidelog restore ...
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The same command deploy/deploy_test.go runs, so a change that breaks the
# static build fails the tests, not only the image build.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/ ./cmd/tailerd ./cmd/replayer

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tailerd /out/replayer /usr/local/bin/
USER nonroot:nonroot
VOLUME ["/var/lib/tidelog"]
# /metrics, /healthz, /readyz and /status (--http-addr).
EXPOSE 9464
# `tailerd status` is the health check: it exits non-zero when the daemon does
# not answer on its --http-addr (warnings such as lag do not fail it).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/tailerd", "status", "--http-addr", "127.0.0.1:9464"]
ENTRYPOINT ["/usr/local/bin/tailerd"]
CMD ["--store", "/var/lib/tidelog/store", "--http-addr", "0.0.0.0:9464"]
