#!/usr/bin/env bash
# Try-out: start the upstream stack in ./.stack (kept between runs: mail, users,
# calendars and the test CA survive) on fixed ports, and print account settings.
#
#   scripts/demo.sh          start (or show, if already running)
#   scripts/demo.sh stop     stop it (data stays in ./.stack; rm -rf .stack to reset)
#
# Fixed ports so a configured phone keeps working; override any of them with
# AIRSYNC_STACK_<NAME>_PORT (see tests/stack/start.sh). Needs root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
DIR=${AIRSYNC_DEMO_DIR:-${PWD}/.stack}

if [[ ${1:-} == stop ]]; then
  exec tests/stack/stop.sh "${DIR}"
fi

export AIRSYNC_STACK_IMAP_PORT=${AIRSYNC_STACK_IMAP_PORT:-10143}
export AIRSYNC_STACK_IMAPS_PORT=${AIRSYNC_STACK_IMAPS_PORT:-10993}
export AIRSYNC_STACK_LMTP_PORT=${AIRSYNC_STACK_LMTP_PORT:-10024}
export AIRSYNC_STACK_SIEVE_PORT=${AIRSYNC_STACK_SIEVE_PORT:-14190}
export AIRSYNC_STACK_SMTP_PORT=${AIRSYNC_STACK_SMTP_PORT:-10025}
export AIRSYNC_STACK_SUBMISSION_PORT=${AIRSYNC_STACK_SUBMISSION_PORT:-10587}
export AIRSYNC_STACK_SMTPS_PORT=${AIRSYNC_STACK_SMTPS_PORT:-10465}
export AIRSYNC_STACK_DAV_PORT=${AIRSYNC_STACK_DAV_PORT:-15232}
AIRSYNC_PORT=${AIRSYNC_PORT:-8443}

tests/stack/install.sh
# shellcheck source=tests/stack/lib.sh
source tests/stack/lib.sh
if [[ -n $(stack_pid dovecot "${DIR}") ]]; then
  echo "demo.sh: the stack is already running in ${DIR}" >&2
else
  # A stopped demo stack starts again with its mail, users and CA.
  tests/stack/start.sh "${DIR}" >/dev/null
fi
# shellcheck disable=SC1091
source "${DIR}/stack.env"

# ---------------------------------------------------------------------------
# AIRSYNC GOES HERE. Start airsync against the stack, e.g.
#   cargo run --release -- serve --config "${DIR}/airsync.toml" &
# with [server] listen = "0.0.0.0:${AIRSYNC_PORT}", tls_cert = "${SERVER_CERT}",
# tls_key = "${SERVER_KEY}", [imap] url = "${IMAP_URL}", [caldav]/[carddav]
# url = "${DAV_URL}", [smtp] url = "${SUBMISSION_URL}", [store] url =
# "sqlite://${DIR}/airsync.db", and record its pid in ${DIR}/airsync.pid so that
# `demo.sh stop` can stop it too.
# ---------------------------------------------------------------------------

cat <<TXT

airsync demo stack is up (data in ${DIR}; logs: ${DIR}/*.log).

Phone account (Exchange / ActiveSync), once airsync runs:
  server    127.0.0.1:${AIRSYNC_PORT} (HTTPS; trust the CA ${CA_CERT})
  user      ${ALICE_LOGIN}   (also: alice, EXAMPLE\\alice)
  password  ${ALICE_PASSWORD}
  second    ${BOB_LOGIN} / ${BOB_PASSWORD}

Upstreams (same logins):
  IMAP        127.0.0.1:${IMAP_PORT} (STARTTLS)   IMAPS 127.0.0.1:${IMAPS_PORT}
  submission  127.0.0.1:${SUBMISSION_PORT} (AUTH, STARTTLS)   SMTPS 127.0.0.1:${SMTPS_PORT}
  CalDAV/CardDAV  ${DAV_URL}
  inbound MTA 127.0.0.1:${SMTP_PORT}:  tests/stack/deliver.sh ${DIR} FROM ${ALICE_LOGIN} FILE
  mail to other domains lands in ${SINK_LOGIN} (password ${SINK_PASSWORD})

Stop: scripts/demo.sh stop
TXT
