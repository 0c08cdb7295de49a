#!/usr/bin/env bash
# Add or update a test user in the running stack in DIR:
#   tests/stack/add-user.sh DIR USER PASSWORD
# USER is a full address (alice@example.org); a bare name gets @MAIL_DOMAIN. Names are
# lower-cased (Dovecot looks logins up lower-cased). The same login and password work
# for IMAP, ManageSieve, SMTP submission and Radicale. Creates the user's Radicale
# collections "calendar" (VEVENT), "tasks" (VTODO) and "contacts" (address book).
# Idempotent and safe to run in parallel.
set -euo pipefail
# shellcheck source=tests/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 3 ]] || die "usage: add-user.sh DIR USER PASSWORD"
DIR=$(abs_dir "$1")
user=${2,,}
password=$3
load_env "${DIR}"
[[ ${user} == *@* ]] || user="${user}@${MAIL_DOMAIN}"
[[ ${user} =~ ^[a-z0-9._+-]+@[a-z0-9.-]+$ ]] || die "bad user name: ${user} (use [a-z0-9._+-]@domain)"
[[ -n ${password} && ${password} != *[:[:space:]]* ]] || die "bad password for ${user}: empty, or contains ':' or white space"

# Dovecot: users.d/USER holds the one passwd-file line of the user
# (user:password:uid:gid:gecos:home:shell:extra; uid, gid and home come from
# default_fields). Written to a temporary file and renamed: Dovecot must never
# read half a file.
dovecot_file=${DIR}/dovecot/users.d/${user}
line="${user}:{PLAIN}${password}::::::"
old=
[[ -f ${dovecot_file} ]] && old=$(<"${dovecot_file}")
if [[ ${old} != "${line}" ]]; then
  tmp=$(mktemp "${DIR}/dovecot/users.d/.new.XXXXXX")
  printf '%s\n' "${line}" >"${tmp}"
  chown root:dovecot "${tmp}"
  chmod 0640 "${tmp}"
  mv -f "${tmp}" "${dovecot_file}"
  if [[ -n ${old} ]]; then
    # A changed password: Dovecot stats a passwd-file at most once a second, and
    # may have looked at this one in the current second.
    sleep 1.1
  fi
fi

# Radicale: one htpasswd file for all, rewritten under a lock (Radicale reads it
# on every request).
(
  flock 9
  file=${DIR}/radicale/users
  tmp=$(mktemp "${file}.XXXXXX")
  awk -F: -v u="${user}" '$1 != u && NF' "${file}" >"${tmp}"
  printf '%s\n' "${user}:${password}" >>"${tmp}"
  chmod 0600 "${tmp}"
  mv -f "${tmp}" "${file}"
) 9>"${DIR}/radicale/users.lock"

# Radicale collections. Radicale creates the principal /USER/ on the first
# authenticated request; MKCALENDAR / extended MKCOL on an existing collection fail
# with 405/409, which is fine here.
dav() {
  local method=$1 path=$2 body=$3 code
  code=$(curl -sS -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 10 \
    -u "${user}:${password}" -X "${method}" -H 'Content-Type: application/xml; charset=utf-8' \
    --data-binary "${body}" "http://127.0.0.1:${DAV_PORT}/${user}/${path}") || true
  case ${code} in
    201 | 405 | 409) ;;
    *)
      log_tail "${DIR}/radicale.log" 20
      die "${method} /${user}/${path} for ${user} answered HTTP ${code}"
      ;;
  esac
}
# The principal first (PROPFIND creates it), then the collections.
code=$(curl -sS -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 10 -u "${user}:${password}" \
  -X PROPFIND -H 'Depth: 0' "http://127.0.0.1:${DAV_PORT}/${user}/") || true
[[ ${code} == 207 ]] || { log_tail "${DIR}/radicale.log" 20; die "Radicale PROPFIND /${user}/ answered HTTP ${code}"; }

calendar() { # name displayname component
  cat <<XML
<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop>
    <D:displayname>$2</D:displayname>
    <C:supported-calendar-component-set><C:comp name="$3"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>
XML
}
dav MKCALENDAR calendar/ "$(calendar calendar Calendar VEVENT)"
dav MKCALENDAR tasks/ "$(calendar tasks Tasks VTODO)"
dav MKCOL contacts/ '<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
  <D:set><D:prop>
    <D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>
    <D:displayname>Contacts</D:displayname>
  </D:prop></D:set>
</D:mkcol>'

# Let Dovecot create the new user's mailboxes and index once, now: a brand-new user's
# first logins racing on the mailbox list index can deadlock Dovecot 2.3 processes
# (fcntl reports EDEADLK and panics; flock waits until the lock times out).
doveadm -c "${DIR}/dovecot/dovecot.conf" mailbox list -u "${user}" >/dev/null
