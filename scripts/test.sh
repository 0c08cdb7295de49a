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
# Every test's airsync keeps its configuration, database and log in a directory of its
# own (tests/common/airsync.rs); they go below this one, which a passing run removes
# and a failing run keeps for its logs.
tests_tmp=$(mktemp -d "${TMPDIR:-/tmp}/airsync-tests.XXXXXX")
cleanup() {
  local rc=$?
  tests/stack/stop.sh "${stack_dir}" || true
  if [[ ${rc} -eq 0 ]]; then
    rm -rf "${tests_tmp}"
  else
    echo "test.sh: the tests' airsync directories (config, log) are kept in ${tests_tmp}" >&2
  fi
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

TMPDIR=${tests_tmp} cargo test --workspace --no-fail-fast "$@"
