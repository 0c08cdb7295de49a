#!/usr/bin/env bash
# Stop or start ONE daemon of the stack in DIR, for fault tests (an upstream outage
# in the middle of a sync). The others keep running; DIR keeps its data.
#
#   tests/stack/daemon.sh DIR stop|start dovecot|radicale
#
# stop: SIGTERM through the verified pid file, waits until the master is gone, then
# ends Dovecot's remaining imap sessions (they outlive the master). start: launches it
# with the configuration start.sh wrote and waits until it answers on its port from
# DIR/stack.env. Needs root.
set -euo pipefail
# shellcheck source=tests/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 3 ]] || die "usage: daemon.sh DIR stop|start dovecot|radicale"
DIR=$(abs_dir "$1")
action=$2 kind=$3
case ${kind} in dovecot | radicale) ;; *) die "daemon.sh: unknown daemon ${kind}" ;; esac
load_env "${DIR}"

case ${action} in
  stop)
    pid=$(stack_pid "${kind}" "${DIR}")
    if [[ -n ${pid} ]]; then
      kill -TERM "${pid}" 2>/dev/null || true
      wait_gone "${kind}" "${pid}"
    fi
    # Dovecot's imap processes outlive their master and keep serving the sessions
    # they have; an outage ends those too.
    if [[ ${kind} == dovecot ]]; then
      kill_leftovers "${DIR}" dovecot 2>/dev/null
    fi
    ;;
  start)
    [[ -z $(stack_pid "${kind}" "${DIR}") ]] || die "${kind} of ${DIR} is already running"
    launch_daemon "${kind}" "${DIR}"
    if [[ ${kind} == dovecot ]]; then
      wait_for "Dovecot IMAP" imap "${IMAP_PORT}" "${DOVECOT_LOG}"
      wait_for "Dovecot LMTP" lmtp "${LMTP_PORT}" "${DOVECOT_LOG}"
    else
      wait_for "Radicale" http "${DAV_PORT}" "${RADICALE_LOG}"
    fi
    ;;
  *) die "daemon.sh: unknown action ${action}" ;;
esac
