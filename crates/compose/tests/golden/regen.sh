#!/usr/bin/env bash
# Regenerates the expected outputs of every case with Docker Compose v2 itself
# (../shared/tools/get-compose-v2.sh): `config`, `config --format json`, `config --hash '*'`.
# A case is a directory with compose files, optional `args` (one per line) and `env`
# (KEY=VALUE lines: the whole environment besides HOME=/home/user). Paths are written as @DIR@.
# `config --hash` hashes absolute paths, so every case runs from a copy at the fixed place
# golden.rs uses too: $GOLDEN_ROOT/<case>.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=/tmp/berth-compose-golden
v2=${COMPOSE_V2:-$(bash "$here/../../../../../shared/tools/get-compose-v2.sh" 2>/dev/null || bash /work/shared/tools/get-compose-v2.sh)}
for src in "$here"/*/; do
  src=${src%/}; name=$(basename "$src")
  case=$root/$name
  rm -rf "$case"; mkdir -p "$root"; cp -a "$src" "$case"
  mapfile -t args < <([ -f "$case/args" ] && cat "$case/args")
  envs=(HOME=/home/user)
  [ -f "$case/env" ] && mapfile -t -O 1 envs < "$case/env"
  for kind in yaml json hash; do
    extra=(); [ $kind = json ] && extra=(--format json); [ $kind = hash ] && extra=(--hash '*')
    (cd "$case" && env -i "${envs[@]}" "$v2" "${args[@]}" config "${extra[@]}" 2>/dev/null) \
      | sed "s#$case#@DIR@#g" > "$src/expected.$kind"
  done
  echo "$name"
done
