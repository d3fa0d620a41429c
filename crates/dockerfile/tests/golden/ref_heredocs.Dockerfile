# syntax=docker/dockerfile:1
FROM debian
RUN <<EOT bash
  set -ex
  apt-get update
  apt-get install -y vim
EOT
RUN <<EOT
  mkdir -p foo/bar
EOT
RUN python3 <<EOF
with open("/hello", "w") as f:
    print("Hello", file=f)
    print("World", file=f)
EOF
ARG FOO=bar
COPY <<-EOT /script.sh
	echo "hello ${FOO}"
	EOT
COPY <<-"EOT" /script2.sh
	echo "hello ${FOO}"
	EOT
RUN <<FILE1 cat > file1 && <<FILE2 cat > file2
I am
first
FILE1
I am
second
FILE2
COPY <<robots.txt <<humans.txt /usr/share/nginx/html/
(robots content)
robots.txt
(humans content)
humans.txt
RUN ["echo", "<<EOF"]
RUN <<EOF
#!/usr/bin/env python3
print("hi")
EOF
