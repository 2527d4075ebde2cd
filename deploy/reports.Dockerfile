# The reports service: a static Go binary on distroless, non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/reports ./reports

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/reports /reports
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/reports"]
