FROM ubuntu
EXPOSE 80/udp 80/tcp 443
VOLUME ["/data"]
VOLUME /var/log /var/db
USER patrick
USER 1000:1000
WORKDIR /a
WORKDIR b
STOPSIGNAL SIGKILL
ENTRYPOINT ["top", "-b"]
ENTRYPOINT exec top -b
CMD ["-c"]
CMD echo "This is a test." | wc -
SHELL ["powershell", "-command"]
SHELL ["/bin/sh", "-c"]
HEALTHCHECK --interval=5m --timeout=3s \
  CMD curl -f http://localhost/ || exit 1
HEALTHCHECK --start-period=1s --start-interval=500ms --retries=5 CMD ["true"]
HEALTHCHECK NONE
ONBUILD ADD . /app/src
ONBUILD RUN /usr/local/bin/python-build --dir /app/src
ONBUILD RUN <<EOF
echo built
EOF
