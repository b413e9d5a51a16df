# Builds tailerd and replayer into a small image that runs as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/tailerd ./cmd/tailerd && \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/replayer ./cmd/replayer

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tailerd /out/replayer /usr/local/bin/
USER nonroot:nonroot
VOLUME ["/var/lib/tidelog"]
ENTRYPOINT ["/usr/local/bin/tailerd"]
CMD ["--store", "/var/lib/tidelog/store"]
