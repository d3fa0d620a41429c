# About my dockerfile
# escape=`
FROM ImageName
RUN echo a \
  b
