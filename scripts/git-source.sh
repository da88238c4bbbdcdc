#!/usr/bin/env bash
# What prefect.git.yaml's deployments clone on the workers: `url` prints the remote's URL,
# `commit` the commit checked out here, after checking that the remote has it (a worker can only
# clone what was pushed). MULTISTORE_GIT_REMOTE names the remote (default: origin).
# Bad input is one line on stderr and exit 1, so `prefect deploy` stops before deploying.
set -euo pipefail
remote="${MULTISTORE_GIT_REMOTE:-origin}"
what="${1:-}"

fail() { echo "git-source: $*" >&2; exit 1; }

git rev-parse --git-dir >/dev/null 2>&1 || fail "$(pwd) is not a git checkout: deploy prefect.git.yaml from one"
url="$(git remote get-url "$remote" 2>/dev/null)" \
  || fail "no git remote '$remote' in $(pwd): add one (git remote add $remote URL) or set MULTISTORE_GIT_REMOTE"

case "$what" in
  url)
    echo "$url"
    ;;
  commit)
    commit="$(git rev-parse HEAD)"
    git fetch --quiet "$remote" || fail "cannot fetch from remote '$remote' ($url)"
    if [ -z "$(git branch --remotes --contains "$commit" --list "$remote/*")" ]; then
      fail "commit ${commit:0:12} is not on remote '$remote' ($url): git push it first, workers clone from there"
    fi
    if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
      echo "git-source: uncommitted changes here are not deployed; workers run commit ${commit:0:12}" >&2
    fi
    echo "$commit"
    ;;
  *)
    fail "usage: scripts/git-source.sh url|commit"
    ;;
esac
