#!/usr/bin/env bash
# Stop the stack started in DIR by start.sh: Dovecot, Postfix, Radicale and PostgreSQL, each
# through its own pid file (never by process name, so other stacks and any system
# instance are untouched). Leaves DIR in place. Safe on a half-started or stopped
# stack.
#   tests/stack/stop.sh DIR
set -euo pipefail
# shellcheck source=tests/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 ]] || die "usage: stop.sh DIR"
DIR=$(abs_dir "$1")
[[ -d ${DIR} ]] || exit 0

# wait_gone NAME PID: wait up to 10 s for PID to exit, then SIGKILL it.
wait_gone() {
  local name=$1 pid=$2 i
  for ((i = 0; i < 100; i++)); do
    pid_alive "${pid}" || return 0
    sleep 0.1
  done
  echo "stack: ${name} (pid ${pid}) did not stop in 10 s; killing it" >&2
  kill -KILL "${pid}" 2>/dev/null || true
}

status=0

# SIGTERM to the three masters at once (each takes 1-3 s to wind down; in a row
# that would be 7 s), then wait. SIGTERM is what 'postfix stop' and 'doveadm stop'
# send too; 'postfix stop' would then poll in whole seconds.
pf_pid=$(stack_pid postfix "${DIR}")
dc_pid=$(stack_pid dovecot "${DIR}")
rad_pid=$(stack_pid radicale "${DIR}")
pg_pid=$(stack_pid postgres "${DIR}")
for pid in "${pf_pid}" "${dc_pid}" "${rad_pid}"; do
  if pid_alive "${pid}"; then kill -TERM "${pid}" 2>/dev/null || true; fi
done
# PostgreSQL: SIGINT is its "fast" shutdown (SIGTERM would wait for clients to leave).
if pid_alive "${pg_pid}"; then kill -INT "${pg_pid}" 2>/dev/null || true; fi
wait_gone postfix "${pf_pid}"
wait_gone dovecot "${dc_pid}"
wait_gone radicale "${rad_pid}"
wait_gone postgres "${pg_pid}"
rm -f "${DIR}/radicale/radicale.pid"

# A daemon of this stack that outlived its master (only if something went wrong):
# Dovecot, Postfix or Python processes whose working directory or command line is
# in DIR. Other processes (a shell in DIR, a tail -f of a log) are left alone.
for p in /proc/[0-9]*; do
  pid=${p#/proc/}
  exe=$(readlink "${p}/exe" 2>/dev/null || true)
  case ${exe} in
    /usr/sbin/dovecot | /usr/lib/dovecot/* | /usr/lib/postfix/* | */python3* | /usr/lib/postgresql/*) ;;
    *) continue ;;
  esac
  cwd=$(readlink "${p}/cwd" 2>/dev/null || true)
  args=$({ tr '\0' ' ' <"${p}/cmdline"; } 2>/dev/null || true)
  if [[ ${cwd} == "${DIR}" || ${cwd} == "${DIR}"/* || ${args} == *"${DIR}/"* ]]; then
    echo "stack: process ${pid} (${args}) outlived the stop; killing it" >&2
    kill -KILL "${pid}" 2>/dev/null || true
    status=1
  fi
done
exit "${status}"
