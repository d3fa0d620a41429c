FROM alpine
COPY hom* /mydir/
COPY hom?.txt /mydir/
COPY test.txt relativeDir/
COPY ["a file", "/dest dir/"]
COPY --chown=55:mygroup --chmod=644 files* /somedir/
COPY --chown=bin files* /somedir/
COPY --link /foo /bar
COPY --parents ./x/a.txt ./y/a.txt /no_parents/
COPY --exclude=*.txt --exclude=*.md hom* /mydir/
COPY --from=nginx:latest /etc/nginx/nginx.conf /nginx.conf
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://mirrors.edge.kernel.org/pub/linux/kernel/Historic/linux-0.01.tar.gz /
ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.10.1 /buildkit
ADD git@github.com:user/repo.git /usr/src/things/
ADD --chown=myuser:mygroup --chmod=655 files* /somedir/
ADD file.tar.gz /
