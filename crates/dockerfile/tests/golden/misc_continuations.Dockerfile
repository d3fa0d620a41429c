FROM busybox
  # indented comment

RUN echo one \
    # a comment inside a continuation
    two \
\
    three
run  echo   lower-case keyword   
RUN echo "trailing escape with spaces" \   
  done
CMD echo \
