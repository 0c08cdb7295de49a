# shellcheck shell=bash
# Shared helpers for the test-stack scripts (sourced, not run).

STACK_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export STACK_LIB_DIR
# Owner of the test mail (created by install.sh).
STACK_MAIL_USER=airsync-test
export STACK_MAIL_USER

die() {
  echo "stack: $*" >&2
  exit 1
}

# abs_dir DIR: absolute path of DIR (need not exist yet).
abs_dir() {
  local d=$1
  [[ -n ${d} ]] || die "empty directory argument"
  if [[ ${d} != /* ]]; then d="${PWD}/${d}"; fi
  realpath -m -- "${d}"
}

# load_env DIR: source DIR/stack.env into the current shell.
load_env() {
  local dir=$1
  [[ -f "${dir}/stack.env" ]] || die "${dir}/stack.env not found (start the stack with tests/stack/start.sh ${dir})"
  # shellcheck disable=SC1091
  source "${dir}/stack.env"
}

# log_tail FILE [N]: print the last N lines of a log, for error messages.
log_tail() {
  local f=$1 n=${2:-30}
  if [[ -f ${f} ]]; then
    echo "---- last ${n} lines of ${f} ----" >&2
    tail -n "${n}" "${f}" >&2
    echo "----" >&2
  else
    echo "---- ${f}: no log written ----" >&2
  fi
}

# pid_alive PID
pid_alive() {
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null
}

# read_pid FILE: first word of a pid file, or nothing.
read_pid() {
  local f=$1 pid=''
  if [[ -s ${f} ]]; then
    read -r pid <"${f}" || true
  fi
  pid=${pid//[^0-9]/}
  printf '%s' "${pid}"
}

# stack_pid KIND DIR: pid of the running dovecot|postfix|radicale|postgres master of the
# stack in DIR, or nothing. The pid file alone is not trusted (a stale one may name
# an unrelated process by now): the process must also belong to DIR.
stack_pid() {
  local kind=$1 dir=$2 pid='' want='' file=''
  case ${kind} in
    dovecot) file=${dir}/dovecot/run/master.pid want="${dir}/dovecot/dovecot.conf" ;;
    postfix) file=${dir}/postfix-spool/pid/master.pid want="MAIL_CONFIG=${dir}/postfix" ;;
    radicale) file=${dir}/radicale/radicale.pid want="${dir}/radicale/config" ;;
    postgres) file=${dir}/pg/data/postmaster.pid want="${dir}/pg/data" ;;
    *) die "stack_pid: unknown kind ${kind}" ;;
  esac
  pid=$(read_pid "${file}")
  pid_alive "${pid}" || return 0
  local info
  info=$({ tr '\0' '\n' <"/proc/${pid}/cmdline" && tr '\0' '\n' <"/proc/${pid}/environ"; } 2>/dev/null || true)
  if [[ ${info} == *"${want}"* ]]; then
    printf '%s' "${pid}"
  fi
}

# free_ports N: print N distinct free TCP ports on 127.0.0.1, one per line.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
    s.close()
PY
}

# probe KIND PORT: one attempt to see whether a service answers on 127.0.0.1:PORT.
# KIND: imap (greeting "* OK"), smtp/lmtp ("220"), sieve (a capability line),
# http (any HTTP status line), tcp (accepts a connection: the TLS-only ports of a
# daemon whose plain port already answered). Pure bash: start-up is CPU-bound on
# two cores and a Python per probe costs more than the probe.
probe() {
  local kind=$1 port=$2 fd line=
  exec {fd}<>"/dev/tcp/127.0.0.1/${port}" || return 1
  case ${kind} in
    tcp) ;;
    http)
      printf 'OPTIONS / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&"${fd}"
      IFS= read -r -t 2 -u "${fd}" line || true
      ;;
    *) IFS= read -r -t 2 -u "${fd}" line || true ;;
  esac
  exec {fd}>&-
  case ${kind} in
    tcp) return 0 ;;
    imap) [[ ${line} == "* OK"* ]] ;;
    smtp | lmtp) [[ ${line} == 220* ]] ;;
    sieve) [[ ${line} == '"'* ]] ;;
    http) [[ ${line} == HTTP/* ]] ;;
    *) die "probe: unknown kind ${kind}" ;;
  esac
}

# wait_for NAME KIND PORT LOG [SECONDS]: wait until the service answers, else die
# with the tail of its log.
wait_for() {
  local name=$1 kind=$2 port=$3 log=$4 secs=${5:-20}
  local deadline=$((SECONDS + secs))
  until probe "${kind}" "${port}" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "stack: ${name} did not answer on 127.0.0.1:${port} within ${secs}s" >&2
      log_tail "${log}" 40
      exit 1
    fi
    sleep 0.05
  done
}

# pg_bindir: the directory of the newest PostgreSQL server binaries the Debian
# packages installed (/usr/lib/postgresql/<version>/bin), or nothing.
pg_bindir() {
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [[ -x ${d}/initdb && -x ${d}/postgres ]] && printf '%s' "${d}"
}

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

# launch_daemon dovecot|radicale DIR: start that daemon of the stack in DIR with the
# configuration start.sh wrote (no waiting: see wait_for). Daemons get no inherited
# stdout/stderr: a caller reading our output through a pipe must see EOF when we exit.
launch_daemon() {
  local kind=$1 dir=$2
  case ${kind} in
    dovecot)
      dovecot -c "${dir}/dovecot/dovecot.conf" </dev/null >>"${dir}/dovecot.log" 2>&1 ||
        { log_tail "${dir}/dovecot.log"; die "dovecot did not start"; }
      ;;
    radicale)
      setsid radicale --config "${dir}/radicale/config" </dev/null >>"${dir}/radicale.log" 2>&1 &
      echo $! >"${dir}/radicale/radicale.pid"
      ;;
    *) die "launch_daemon: unknown daemon ${kind}" ;;
  esac
}

# leftover_pids DIR dovecot|any: processes of the stack in DIR that are not tracked
# by a pid file: Dovecot's (and, for "any", Postfix's, Python's and PostgreSQL's) whose working
# directory or command line is in DIR. Other processes (a shell in DIR, a tail -f of a
# log) are never listed.
leftover_pids() {
  local dir=$1 which=$2 p pid exe cwd args
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    exe=$(readlink "${p}/exe" 2>/dev/null || true)
    case ${which}:${exe} in
      *:/usr/sbin/dovecot | *:/usr/lib/dovecot/*) ;;
      any:/usr/lib/postfix/* | any:*/python3* | any:/usr/lib/postgresql/*) ;;
      *) continue ;;
    esac
    cwd=$(readlink "${p}/cwd" 2>/dev/null || true)
    args=$({ tr '\0' ' ' <"${p}/cmdline"; } 2>/dev/null || true)
    if [[ ${cwd} == "${dir}" || ${cwd} == "${dir}"/* || ${args} == *"${dir}/"* ]]; then
      echo "${pid}"
    fi
  done
}

# kill_leftovers DIR dovecot|any: SIGKILL what leftover_pids lists.
kill_leftovers() {
  local pid
  for pid in $(leftover_pids "$1" "$2"); do
    echo "stack: process ${pid} ($(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null)) outlived the stop; killing it" >&2
    kill -KILL "${pid}" 2>/dev/null || true
  done
}
