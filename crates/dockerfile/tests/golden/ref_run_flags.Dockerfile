FROM ubuntu
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
  --mount=type=cache,target=/var/lib/apt,sharing=locked \
  apt update && apt-get --no-install-recommends install -y gcc
RUN --mount=type=secret,id=aws,target=/root/.aws/credentials \
  aws s3 cp s3://... ...
RUN --mount=type=secret,id=API_KEY,env=API_KEY some-command --token-from-env $API_KEY
RUN --mount=type=ssh ssh -q -T git@gitlab.com 2>&1 | tee /hello
RUN --mount=type=bind,from=build,source=/out,target=/in --mount=type=tmpfs,target=/tmp,size=64m ls /in
RUN --network=none pip install --find-links wheels mypackage
RUN --mount=type=cache,target=/root/.cache/$CACHE_ID cargo build
RUN --security=insecure cat /proc/self/status
