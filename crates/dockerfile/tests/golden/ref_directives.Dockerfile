# syntax=docker/dockerfile:1
# check=skip=JSONArgsRecommended;error=true
# unknowndirective=value
# escape=`
FROM ImageName
RUN echo \
