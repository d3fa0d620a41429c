# syntax=docker/dockerfile:1
FROM busybox
ENV FOO=/bar
WORKDIR ${FOO}   # WORKDIR /bar
ADD . $FOO       # ADD . /bar
COPY \$FOO /quux # COPY $FOO /quux
ENV abc=hello
ENV abc=bye def=$abc
ENV ghi=$abc
