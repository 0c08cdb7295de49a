#!/usr/bin/env bash
# THE test command: installs the upstream packages if missing, starts a private
# test stack (Dovecot, Radicale, Postfix on 127.0.0.1) in a temporary directory,
# runs `cargo test --workspace` against it and always stops the stack.
#
#   scripts/test.sh [ARGS for cargo test…]     e.g. scripts/test.sh -- --nocapture
#
# Environment:
#   CARGO_TARGET_DIR       default /var/cache/airsync-target (shared build cache)
#   AIRSYNC_KEEP_STACK=1   keep the stack's directory (logs, mail) after the run
# Needs root (the stack's daemons drop privileges themselves); see tests/stack/README.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/airsync-target}

tests/stack/install.sh

stack_dir=$(mktemp -d "${TMPDIR:-/tmp}/airsync-stack.XXXXXX")
cleanup() {
  local rc=$?
  tests/stack/stop.sh "${stack_dir}" || true
  if [[ ${rc} -ne 0 ]]; then
    # Show the upstreams' side of a failure.
    for log in dovecot.log postfix.log radicale.log; do
      if [[ -f ${stack_dir}/${log} ]]; then
        echo "---- last 25 lines of ${stack_dir}/${log} ----" >&2
        tail -n 25 "${stack_dir}/${log}" >&2
      fi
    done
  fi
  if [[ -n ${AIRSYNC_KEEP_STACK:-} ]]; then
    echo "test.sh: stack directory kept: ${stack_dir}" >&2
  else
    rm -rf "${stack_dir}"
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tests/stack/start.sh "${stack_dir}" >/dev/null
export AIRSYNC_TEST_STACK=${stack_dir}

cargo test --workspace --no-fail-fast "$@"
