#!/usr/bin/env bash
# Install the Debian packages the test stack needs (Dovecot, Radicale, Postfix and
# tools) and the system user that owns the test mail. Idempotent: does nothing when
# everything is present. The system services of these packages are never started:
# the stack runs private instances (tests/stack/start.sh).
set -euo pipefail

# python3-tz: only recommended by python3-vobject, and installed here without
# recommends; without it Radicale refuses every calendar object with a VTIMEZONE (400
# "VTIMEZONE components must contain a valid TZID"), as on a machine that lacked it.
PACKAGES=(
  dovecot-imapd dovecot-lmtpd dovecot-sieve dovecot-managesieved
  radicale python3-tz postfix
  libwbxml2-utils openssl apache2-utils sqlite3 ca-certificates curl python3
)
# More packages for particular tests (a browser, LDAP, PostgreSQL…), one name a line
# in tests/stack/packages-*.txt, so that a test's needs live next to the stack.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for list in "${here}"/packages-*.txt; do
  [[ -f ${list} ]] || continue
  while read -r name _; do
    [[ -n ${name} && ${name} != \#* ]] && PACKAGES+=("${name}")
  done <"${list}"
done
# Owner of every test mailbox (Dovecot mail_uid/mail_gid). Dovecot's own package
# users (dovecot, dovenull) run its internal and login processes.
MAIL_USER=airsync-test

as_root() {
  if [[ ${EUID} -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install.sh: need root (or sudo) for: $*" >&2
    exit 1
  fi
}

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "${p}" 2>/dev/null || true)
  [[ ${status} == installed ]] || missing+=("${p}")
done

if ((${#missing[@]})); then
  echo "install.sh: installing ${missing[*]}" >&2
  # Keep apt from starting the packages' system services (invoke-rc.d honours
  # policy-rc.d). Only a file we created ourselves is removed afterwards.
  created_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    created_policy=1
  fi
  # Postfix asks for a configuration type; we never use /etc/postfix.
  printf '%s\n' \
    'postfix postfix/main_mailer_type select No configuration' \
    'postfix postfix/mailname string localhost' | as_root debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"
  if [[ -n ${created_policy} ]]; then
    as_root rm -f /usr/sbin/policy-rc.d
  fi
  # Should a system service have started anyway (e.g. a systemd host ignoring
  # policy-rc.d), stop the instances this install started: tests never use them.
  if [[ -s /run/dovecot/master.pid ]] && kill -0 "$(cat /run/dovecot/master.pid)" 2>/dev/null; then
    as_root doveadm stop || true
  fi
  if [[ -s /var/spool/postfix/pid/master.pid ]]; then
    as_root postfix stop >/dev/null 2>&1 || true
  fi
fi

if ! getent passwd "${MAIL_USER}" >/dev/null; then
  as_root useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin --comment "airsync test mail owner" "${MAIL_USER}"
fi

# Users the packages create and the stack relies on.
for u in dovecot dovenull postfix postgres; do
  getent passwd "${u}" >/dev/null || { echo "install.sh: system user ${u} missing" >&2; exit 1; }
done
getent group postdrop >/dev/null || { echo "install.sh: group postdrop missing" >&2; exit 1; }
