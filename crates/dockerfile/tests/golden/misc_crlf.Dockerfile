FROM busybox
RUN echo crlf \
  next
