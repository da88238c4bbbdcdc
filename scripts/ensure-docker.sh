#!/usr/bin/env bash
# The Docker work pool's test needs a Docker engine (dockerd, started by the test when it is not
# running) and debootstrap (the image's local base: no image registry is reachable here).
# Debian's docker.io brings both the engine and a client; elsewhere install Docker your own way.
set -euo pipefail
if command -v dockerd >/dev/null && command -v debootstrap >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's docker.io and debootstrap (needed by the Docker work pool's test)..."
  apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
else
  echo "no dockerd or debootstrap: install Docker and debootstrap (as root: apt-get install docker.io debootstrap)" >&2
fi
