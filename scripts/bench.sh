#!/usr/bin/env bash
# Runs the benches (not part of CI) against a private test stack, like scripts/test.sh:
#
#   scripts/bench.sh             # every bench
#   scripts/bench.sh push        # one bench (benches/push.rs)
#
# Environment: CARGO_TARGET_DIR as in test.sh; AIRSYNC_TEST_LOG (info); the push bench
# reads PUSH_USERS (2000), PUSH_DEVICES (5), PUSH_ROUNDS (200), PUSH_SKIP_LATENCY,
# PUSH_SKIP_SCALE; mail_sync reads MAIL_SYNC_ROUNDS (5). mail_sync_ab compares builds
# and runs only when named, with AB_BINS (the builds' paths) and AB_ROUNDS (16):
#
#   AB_BINS="/tmp/airsync-old /tmp/airsync-new" scripts/bench.sh mail_sync_ab
# Needs root (the stack's daemons drop privileges themselves).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/airsync-target}
# airsync logs at its default level, as in production (the tests log at debug).
export AIRSYNC_TEST_LOG=${AIRSYNC_TEST_LOG:-info}

tests/stack/install.sh

stack_dir=$(mktemp -d "${TMPDIR:-/tmp}/airsync-bench-stack.XXXXXX")
cleanup() {
  local rc=$?
  tests/stack/stop.sh "${stack_dir}" || true
  rm -rf "${stack_dir}"
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 10,000 waiting phones need many sockets: airsync and the bench inherit this limit.
ulimit -n 65536 2>/dev/null || echo "bench.sh: could not raise ulimit -n (now $(ulimit -n))" >&2

tests/stack/start.sh "${stack_dir}" >/dev/null
export AIRSYNC_TEST_STACK=${stack_dir}

if [[ $# -gt 0 ]]; then
  for bench in "$@"; do
    cargo bench --bench "${bench}"
  done
else
  for bench in push mail_sync pim_sync; do
    cargo bench --bench "${bench}"
  done
fi
