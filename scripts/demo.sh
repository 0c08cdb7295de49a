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

stop_airsync() {
  if [[ -s ${DIR}/airsync.pid ]] && kill -0 "$(cat "${DIR}/airsync.pid")" 2>/dev/null; then
    kill -TERM "$(cat "${DIR}/airsync.pid")" || true
    for _ in $(seq 1 50); do
      kill -0 "$(cat "${DIR}/airsync.pid")" 2>/dev/null || break
      sleep 0.2
    done
  fi
  rm -f "${DIR}/airsync.pid"
}

if [[ ${1:-} == stop ]]; then
  stop_airsync
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

# airsync itself, on all interfaces (so a phone on the LAN can reach it), with the
# stack's certificate and upstreams. The admin listener stays on loopback.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/airsync-target}
cargo build --release --quiet
ADMIN_TOKEN_FILE=${DIR}/admin-token
[[ -s ${ADMIN_TOKEN_FILE} ]] || head -c 18 /dev/urandom | base64 | tr -d '/+=' >"${ADMIN_TOKEN_FILE}"
cat >"${DIR}/airsync.toml" <<TOML
# Written by scripts/demo.sh.
[server]
listen = "0.0.0.0:${AIRSYNC_PORT}"
tls_cert = "${SERVER_CERT}"
tls_key = "${SERVER_KEY}"
[log]
level = "info"
[store]
url = "sqlite://${DIR}/airsync.db"
[imap]
url = "${IMAP_URL}"
[caldav]
url = "${DAV_URL}"
[carddav]
url = "${DAV_URL}"
[smtp]
url = "${SUBMISSION_URL}"
[admin]
listen = "127.0.0.1:18081"
token = "$(cat "${ADMIN_TOKEN_FILE}")"
trace_dir = "${DIR}/traces"
[auth]
default_domain = "${MAIL_DOMAIN}"
TOML
stop_airsync
"${CARGO_TARGET_DIR}/release/airsync" serve --config "${DIR}/airsync.toml" >>"${DIR}/airsync.log" 2>&1 &
echo $! >"${DIR}/airsync.pid"
for _ in $(seq 1 100); do
  grep -q "listening" "${DIR}/airsync.log" 2>/dev/null && break
  kill -0 "$(cat "${DIR}/airsync.pid")" 2>/dev/null || { tail -n 20 "${DIR}/airsync.log" >&2; exit 1; }
  sleep 0.1
done

cat <<TXT

airsync demo stack is up (data in ${DIR}; logs: ${DIR}/*.log).

Phone account (Exchange / ActiveSync):
  server    this machine's address, port ${AIRSYNC_PORT} (HTTPS; the certificate is
            signed by the CA in ${CA_CERT}: install it on the phone, or accept it)
  user      ${ALICE_LOGIN}   (also: alice, EXAMPLE\\alice)
  password  ${ALICE_PASSWORD}
  second    ${BOB_LOGIN} / ${BOB_PASSWORD}

Upstreams (same logins):
  IMAP        127.0.0.1:${IMAP_PORT} (STARTTLS)   IMAPS 127.0.0.1:${IMAPS_PORT}
  submission  127.0.0.1:${SUBMISSION_PORT} (AUTH, STARTTLS)   SMTPS 127.0.0.1:${SMTPS_PORT}
  CalDAV/CardDAV  ${DAV_URL}
  inbound MTA 127.0.0.1:${SMTP_PORT}:  tests/stack/deliver.sh ${DIR} FROM ${ALICE_LOGIN} FILE
  mail to other domains lands in ${SINK_LOGIN} (password ${SINK_PASSWORD})

airsync log:  ${DIR}/airsync.log
Admin page:   http://127.0.0.1:18081/  (token in ${ADMIN_TOKEN_FILE})
Stop: scripts/demo.sh stop
TXT
