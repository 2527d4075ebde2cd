# Flex Template image of the streaming pipeline: Google's Go launcher runs the
# binary with the template's parameters as flags.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/streaming ./pipelines/streaming

FROM gcr.io/dataflow-templates-base/go-template-launcher-base
COPY --from=build /out/streaming /template/streaming
ENV FLEX_TEMPLATE_GO_BINARY=/template/streaming
