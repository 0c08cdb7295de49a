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

# update_file FILE LINE: replace the line for ${user} in FILE by LINE, atomically
# (write a temporary file, rename it): Dovecot and Radicale re-read these files
# on change and must never see half a file.
update_file() {
  local file=$1 line=$2 tmp
  tmp=$(mktemp "${file}.XXXXXX")
  awk -F: -v u="${user}" '$1 != u && NF' "${file}" >"${tmp}"
  printf '%s\n' "${line}" >>"${tmp}"
  chmod --reference="${file}" "${tmp}"
  chown --reference="${file}" "${tmp}"
  mv -f "${tmp}" "${file}"
}

(
  flock 9
  # passwd-file: user:password:uid:gid:gecos:home:shell:extra (uid, gid and home
  # come from mail_uid/mail_gid/mail_home).
  update_file "${DIR}/dovecot/users" "${user}:{PLAIN}${password}::::::"
  update_file "${DIR}/radicale/users" "${user}:${password}"
) 9>"${DIR}/users.lock"

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
