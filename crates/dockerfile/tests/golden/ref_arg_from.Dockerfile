ARG  CODE_VERSION=latest
FROM base:${CODE_VERSION}
CMD  /code/run-app

FROM extras:${CODE_VERSION}
CMD  /code/run-extras
ARG user1
ARG buildno=1
ARG a=1 b c="x y"
USER ${user1:-some_user}
