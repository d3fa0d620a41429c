# syntax=docker/dockerfile:1
FROM golang:1.23 AS build
WORKDIR /src
COPY <<EOF ./main.go
package main

import "fmt"

func main() {
  fmt.Println("hello, world")
}
EOF
RUN go build -o /bin/hello ./main.go

FROM scratch
COPY --from=build /bin/hello /bin/hello
CMD ["/bin/hello"]

FROM alpine:latest AS Builder2
COPY --from=nginx:latest /etc/nginx/nginx.conf /nginx.conf
FROM --platform=$BUILDPLATFORM builder2 AS final
