#!/usr/bin/env bash
# Start the test stack in DIR: a private Dovecot (IMAP/IMAPS/LMTP/ManageSieve),
# Radicale (CalDAV/CardDAV), Postfix (SMTP in, submission out) and PostgreSQL (the
# store of the several-node tests), all on 127.0.0.1, with a test CA. Writes DIR/stack.env and prints it. See tests/stack/README.md.
#
#   tests/stack/start.sh DIR
#
# DIR is created if missing. An existing DIR of a stopped stack is reused: mail,
# users, collections and the CA survive (scripts/demo.sh relies on that); configs
# and ports are written afresh. Ports are free ones picked at start, unless fixed by
# AIRSYNC_STACK_<NAME>_PORT (NAME: IMAP IMAPS LMTP SIEVE SMTP SUBMISSION SMTPS DAV PG).
# Needs root (Postfix's master and Dovecot's privilege separation) and the packages
# from tests/stack/install.sh.
set -euo pipefail
# shellcheck source=tests/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 ]] || die "usage: start.sh DIR"
[[ ${EUID} -eq 0 ]] || die "start.sh must run as root (Postfix and Dovecot drop privileges themselves)"
DIR=$(abs_dir "$1")
MAIL_DOMAIN=example.org
T0=$(date +%s%N)
# phase NAME: with STACK_TIMING=1, print the milliseconds since start.
phase() {
  [[ -z ${STACK_TIMING:-} ]] || echo "stack: $(( ($(date +%s%N) - T0) / 1000000 )) ms: $1" >&2
}

# Refuse to start twice in one DIR.
for kind in dovecot postfix radicale postgres; do
  if [[ -n $(stack_pid "${kind}" "${DIR}") ]]; then
    die "a stack is already running in ${DIR} (stop it with tests/stack/stop.sh ${DIR})"
  fi
done

# Unix socket paths are limited to 107 bytes; Dovecot's longest is
# DIR/dovecot/run/login/imap-urlauth-worker style (~45 bytes after DIR).
((${#DIR} <= 60)) || die "DIR path too long for Dovecot's unix sockets (${#DIR} > 60 bytes): ${DIR}"
getent passwd "${STACK_MAIL_USER}" >/dev/null || die "user ${STACK_MAIL_USER} missing: run tests/stack/install.sh"

mkdir -p "${DIR}"
# Dovecot's and Postfix's unprivileged processes must reach files below DIR
# (mktemp -d makes it 0700).
chmod 0755 "${DIR}"
mkdir -p "${DIR}/tls" "${DIR}/dovecot" "${DIR}/radicale" "${DIR}/postfix"
mkdir -p "${DIR}/mail" "${DIR}/dovecot/shared"
chown "${STACK_MAIL_USER}:${STACK_MAIL_USER}" "${DIR}/mail" "${DIR}/dovecot/shared"
chmod 0750 "${DIR}/mail"
# ...and so must every directory above DIR (a repo under /root, mode 0700, is not).
if command -v runuser >/dev/null 2>&1 && ! runuser -u "${STACK_MAIL_USER}" -- test -x "${DIR}/mail"; then
  die "user ${STACK_MAIL_USER} cannot reach ${DIR}: a parent directory is not searchable; use a DIR under /tmp"
fi

# ---------------------------------------------------------------- ports
port_names=(IMAP IMAPS LMTP SIEVE SMTP SUBMISSION SMTPS DAV PG)
mapfile -t picked < <(free_ports "${#port_names[@]}")
declare -A PORT
for i in "${!port_names[@]}"; do
  n=${port_names[$i]}
  var="AIRSYNC_STACK_${n}_PORT"
  PORT[$n]=${!var:-${picked[$i]}}
  [[ ${PORT[$n]} =~ ^[0-9]+$ ]] || die "${var} is not a port number: ${PORT[$n]}"
done

phase "ports"
# ---------------------------------------------------------------- PostgreSQL
# A private cluster for the several-node tests, started first and in the background
# (initdb takes about a second, once per DIR): the unprivileged package user
# `postgres` owns DIR/pg/data; the server listens on 127.0.0.1 with password
# (SCRAM) logins and keeps its unix socket in DIR/pg/run, where local logins are
# trusted. Durability is off: a test database never outlives a crash.
PG_BIN=$(pg_bindir) || true
[[ -n ${PG_BIN} ]] || die "PostgreSQL server binaries missing under /usr/lib/postgresql: run tests/stack/install.sh"
getent passwd postgres >/dev/null || die "user postgres missing: run tests/stack/install.sh"
PG_USER=airsync
PG_PASSWORD=airsync-secret
PG_DB=airsync
PG_RUN=${DIR}/pg/run
start_postgres() {
  mkdir -p "${DIR}/pg/run"
  chown postgres:postgres "${DIR}/pg" "${PG_RUN}"
  chmod 0700 "${DIR}/pg"
  if [[ ! -s ${DIR}/pg/data/PG_VERSION ]]; then
    rm -rf "${DIR}/pg/data"
    local pwfile=${DIR}/pg/pwfile
    (umask 077 && printf '%s\n' "${PG_PASSWORD}" >"${pwfile}")
    chown postgres:postgres "${pwfile}"
    runuser -u postgres -- "${PG_BIN}/initdb" -D "${DIR}/pg/data" -U "${PG_USER}" \
      --pwfile="${pwfile}" --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 --no-sync --no-instructions </dev/null >>"${DIR}/postgresql.log" 2>&1 || return 1
    rm -f "${pwfile}"
  fi
  runuser -u postgres -- setsid "${PG_BIN}/postgres" -D "${DIR}/pg/data" \
    -c listen_addresses=127.0.0.1 -p "${PORT[PG]}" -c unix_socket_directories="${PG_RUN}" \
    -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    </dev/null >>"${DIR}/postgresql.log" 2>&1 &
  local deadline=$((SECONDS + 20))
  until "${PG_BIN}/pg_isready" -q -h "${PG_RUN}" -p "${PORT[PG]}" -U "${PG_USER}" -d postgres; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
  local psql=("${PG_BIN}/psql" -h "${PG_RUN}" -p "${PORT[PG]}" -U "${PG_USER}" -d postgres -qtA)
  if [[ $("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '${PG_DB}'") != 1 ]]; then
    "${psql[@]}" -c "CREATE DATABASE ${PG_DB}" >>"${DIR}/postgresql.log" 2>&1 || return 1
  fi
}
start_postgres </dev/null >>"${DIR}/postgresql.log" 2>&1 &
pg_job=$!
# ---------------------------------------------------------------- TLS
# A small CA and a server certificate signed by it: rustls and Python reject a lone
# self-signed certificate used as its own trust anchor. Kept across restarts of the
# same DIR so a device that trusts the CA keeps trusting it.
TLS=${DIR}/tls
if [[ ! -s ${TLS}/ca.pem || ! -s ${TLS}/server.pem || ! -s ${TLS}/server.key ]]; then
  (
    cd "${TLS}"
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout ca.key -out ca.pem -days 3650 -subj "/O=airsync test/CN=airsync test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout server.key -out server.csr -subj "/O=airsync test/CN=localhost" 2>/dev/null
    cat >server.ext <<'EXT'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
    # 825 days: the longest validity Apple devices accept for a private CA's leaf.
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
      -days 825 -extfile server.ext -out server.pem 2>/dev/null
    rm -f server.csr server.ext
    # Test-only key: readable so tests need no privileges to serve HTTPS with it.
    chmod 0644 server.key ca.pem server.pem
    chmod 0600 ca.key
  )
fi

phase "tls"
# ---------------------------------------------------------------- users files
# Dovecot: one passwd-file per user, users.d/LOGIN. Dovecot stats a passwd-file at
# most once a second, so with one shared file a user added right after another
# login could stay unknown for up to a second; a new file is read at first use.
# Radicale: one htpasswd file, read on every request. tests/stack/add-user.sh
# writes both.
mkdir -p "${DIR}/dovecot/users.d"
chown root:dovecot "${DIR}/dovecot/users.d"
chmod 0750 "${DIR}/dovecot/users.d"
touch "${DIR}/radicale/users"
chmod 0600 "${DIR}/radicale/users"

# ---------------------------------------------------------------- Dovecot
DOVECOT_CONF=${DIR}/dovecot/dovecot.conf
mkdir -p "${DIR}/dovecot/state"
ssl_dh=
[[ -f /usr/share/dovecot/dh.pem ]] && ssl_dh="ssl_dh = </usr/share/dovecot/dh.pem"
cat >"${DOVECOT_CONF}" <<CONF
# Private Dovecot of the airsync test stack (written by tests/stack/start.sh).
# Runs as root like a system Dovecot; its internal processes run as dovecot,
# login processes as dovenull, and all mail belongs to ${STACK_MAIL_USER}.
instance_name = airsync-stack-$(basename "${DIR}")
base_dir = ${DIR}/dovecot/run
state_dir = ${DIR}/dovecot/state
listen = 127.0.0.1
protocols = imap lmtp sieve
log_path = ${DIR}/dovecot.log
info_log_path = ${DIR}/dovecot.log
hostname = mail.${MAIL_DOMAIN}
postmaster_address = postmaster@${MAIL_DOMAIN}
# Mail Dovecot itself sends (Sieve vacation, redirect, rejects) goes through the
# stack's Postfix, never the system's sendmail.
submission_host = 127.0.0.1:${PORT[SMTP]}

default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
mail_uid = ${STACK_MAIL_USER}
mail_gid = ${STACK_MAIL_USER}
first_valid_uid = 1
first_valid_gid = 1


ssl = yes
${ssl_dh}
ssl_cert = <${DIR}/tls/server.pem
ssl_key = <${DIR}/tls/server.key
ssl_min_protocol = TLSv1.2
# Loopback tests log in without TLS; STARTTLS and IMAPS are there for those that want it.
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Lu
auth_cache_size = 0
# No slow-down after a deliberate wrong-password test.
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu ${DIR}/dovecot/users.d/%Lu
}
userdb {
  driver = passwd-file
  args = username_format=%Lu ${DIR}/dovecot/users.d/%Lu
  # uid/gid in the reply: a user's imap process (running as ${STACK_MAIL_USER}) may then
  # look up another user's home, which the shared/ namespace needs.
  default_fields = uid=${STACK_MAIL_USER} gid=${STACK_MAIL_USER} home=${DIR}/mail/%Lu
}

mail_home = ${DIR}/mail/%Lu
mail_location = maildir:~/Maildir:LAYOUT=fs
mailbox_list_index = yes
# fcntl() locks report false deadlocks (EDEADLK, then a Dovecot panic) when two
# processes of a brand-new user create its mailbox index at once; flock() has no
# deadlock detection. Tests never sync mail to disk: mail_fsync = never is safe here
# and makes bulk appends fast.
lock_method = flock
mail_fsync = never
mail_plugins = acl
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no

namespace inbox {
  type = private
  separator = /
  prefix =
  inbox = yes
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = subscribe
  }
}
# Folders other users shared (IMAP SETACL / doveadm acl set) appear as
# shared/<owner>/<folder>.
namespace shared {
  type = shared
  separator = /
  prefix = shared/%%u/
  location = maildir:%%h/Maildir:LAYOUT=fs:INDEXPVT=~/shared/%%u
  subscriptions = no
  list = children
}

plugin {
  acl = vfile
  acl_shared_dict = file:${DIR}/dovecot/shared/shared-mailboxes.db
  sieve = file:~/sieve;active=~/.dovecot.sieve
}

protocol imap {
  mail_plugins = \$mail_plugins imap_acl
  mail_max_userip_connections = 1000
  # Every imap process of every stack on the machine runs as airsync-test; past
  # fs.inotify.max_user_instances (128 by default) Dovecot stops using inotify and
  # notices new mail for IDLE/NOTIFY only by polling at this interval (30 s by
  # default), which made push tests slow or flaky on a busy machine.
  mailbox_idle_check_interval = 1 secs
}
protocol lmtp {
  mail_plugins = \$mail_plugins sieve
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${PORT[IMAP]}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${PORT[IMAPS]}
    ssl = yes
  }
  # Performance mode: a few long-lived login processes serve all logins.
  service_count = 0
  process_min_avail = 2
  client_limit = 5000
}
service imap {
  process_limit = 5000
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${PORT[LMTP]}
  }
}
service managesieve-login {
  inet_listener sieve {
    address = 127.0.0.1
    port = ${PORT[SIEVE]}
  }
}
service auth {
  # Postfix's submission service authenticates users through Dovecot.
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
service anvil {
  # No auth penalty: without this listener a wrong password from 127.0.0.1 slows
  # every following login for seconds.
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
CONF
launch_daemon dovecot "${DIR}"

phase "dovecot started"
# ---------------------------------------------------------------- Radicale
mkdir -p "${DIR}/radicale/collections"
cat >"${DIR}/radicale/config" <<CONF
# Private Radicale of the airsync test stack (written by tests/stack/start.sh).
[server]
hosts = 127.0.0.1:${PORT[DAV]}
max_connections = 64
timeout = 60

[auth]
type = htpasswd
htpasswd_filename = ${DIR}/radicale/users
htpasswd_encryption = plain
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = ${DIR}/radicale/collections

[web]
type = none

[logging]
level = info
mask_passwords = True
CONF
launch_daemon radicale "${DIR}"

phase "radicale started"
# ---------------------------------------------------------------- Postfix
PF=${DIR}/postfix
# Queue and data live beside the config dir, not in it: postfix-script wants every
# file below config_directory owned by root.
mkdir -p "${DIR}/postfix-spool" "${DIR}/postfix-data"
chown postfix "${DIR}/postfix-data"
# The queue tree as post-install would make it: 'postfix check' creates missing
# entries one by one through shell loops (~0.3 s of CPU); made here it costs nothing.
(
  cd "${DIR}/postfix-spool"
  mkdir -p active bounce corrupt defer deferred flush hold incoming private saved trace maildrop public pid
  chown postfix:root active bounce corrupt defer deferred flush hold incoming private saved trace
  chmod 0700 active bounce corrupt defer deferred flush hold incoming private saved trace
  chown postfix:postdrop maildrop public
  chmod 0730 maildrop
  chmod 0710 public
  chown root:root pid
  chmod 0755 pid
)
cat >"${PF}/sink.regexp" <<CONF
# Every recipient outside ${MAIL_DOMAIN}, and the role addresses, goes to the sink
# mailbox: nothing leaves the machine, and tests can read what would have left.
/^(postmaster|abuse|mailer-daemon)@/    sink@${MAIL_DOMAIN}
!/@${MAIL_DOMAIN//./\\.}\$/              sink@${MAIL_DOMAIN}
CONF
cat >"${PF}/main.cf" <<CONF
# Private Postfix of the airsync test stack (written by tests/stack/start.sh).
compatibility_level = 3.6
multi_instance_name = postfix-airsync-$(basename "${DIR}")
queue_directory = ${DIR}/postfix-spool
data_directory = ${DIR}/postfix-data
mail_owner = postfix
setgid_group = postdrop
# Log to a file (through postlogd): there may be no syslog.
maillog_file = ${DIR}/postfix.log
maillog_file_prefixes = ${DIR}

myhostname = mail.${MAIL_DOMAIN}
mydomain = ${MAIL_DOMAIN}
myorigin = ${MAIL_DOMAIN}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtputf8_enable = no
biff = no
append_dot_mydomain = no
recipient_delimiter = +
message_size_limit = 52428800

# No local delivery, no relaying: the test domain goes to Dovecot over LMTP and
# everything else is rewritten to the sink mailbox (sink.regexp).
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:local delivery is disabled in the test stack
relayhost =
default_transport = error:mail leaving the test stack is disabled
relay_transport = error:mail leaving the test stack is disabled
virtual_mailbox_domains = ${MAIL_DOMAIN}
virtual_transport = lmtp:inet:127.0.0.1:${PORT[LMTP]}
virtual_alias_maps = regexp:${PF}/sink.regexp
# The regexp would otherwise make every domain a virtual alias domain.
virtual_alias_domains =
# Users come and go at run time; Dovecot's LMTP decides which exist.
smtpd_reject_unlisted_recipient = no
smtp_dns_support_level = disabled
smtpd_peername_lookup = no

# Fast tests: no tarpits, quick retries.
in_flow_delay = 0
smtpd_error_sleep_time = 0
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 10s
default_process_limit = 200
delay_warning_time = 0

smtpd_tls_cert_file = ${DIR}/tls/server.pem
smtpd_tls_key_file = ${DIR}/tls/server.key
smtpd_tls_security_level = may
smtpd_tls_auth_only = no
smtp_tls_security_level = none
lmtp_tls_security_level = none

smtpd_sasl_type = dovecot
smtpd_sasl_path = ${DIR}/dovecot/run/auth-postfix
smtpd_sasl_auth_enable = no
CONF
# master.cf: no chroot anywhere (column 5 = n); listeners only on 127.0.0.1.
submission_opts="-o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=
  -o smtpd_helo_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
  -o milter_macro_daemon_name=ORIGINATING"
cat >"${PF}/master.cf" <<CONF
# service type  private unpriv chroot wakeup maxproc command
127.0.0.1:${PORT[SMTP]} inet n - n - - smtpd
127.0.0.1:${PORT[SUBMISSION]} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  ${submission_opts}
127.0.0.1:${PORT[SMTPS]} inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  ${submission_opts}
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
CONF
phase "postfix configured"
# Early errors go to syslog, which may not exist: check first, loudly.
# Postfix re-reads a main.cf whose mtime is this very second until it is older
# (a guard against half-saved files): backdate ours instead of waiting ~2.5 s.
touch -d '-1 minute' "${PF}/main.cf" "${PF}/master.cf" "${PF}/sink.regexp"
postfix -c "${PF}" check </dev/null >>"${DIR}/postfix.log" 2>&1 || { log_tail "${DIR}/postfix.log"; die "postfix check failed"; }
phase "postfix checked"
postfix -c "${PF}" start </dev/null >>"${DIR}/postfix.log" 2>&1 || { log_tail "${DIR}/postfix.log"; die "postfix did not start"; }

phase "postfix started"
# ---------------------------------------------------------------- stack.env
cat >"${DIR}/stack.env" <<ENV
# airsync test stack (tests/stack/start.sh); shell KEY=value lines.
DIR=${DIR}
MAIL_DOMAIN=${MAIL_DOMAIN}
IMAP_PORT=${PORT[IMAP]}
IMAPS_PORT=${PORT[IMAPS]}
LMTP_PORT=${PORT[LMTP]}
SIEVE_PORT=${PORT[SIEVE]}
SMTP_PORT=${PORT[SMTP]}
SUBMISSION_PORT=${PORT[SUBMISSION]}
SMTPS_PORT=${PORT[SMTPS]}
DAV_PORT=${PORT[DAV]}
IMAP_URL=imap://127.0.0.1:${PORT[IMAP]}
IMAPS_URL=imaps://127.0.0.1:${PORT[IMAPS]}
SUBMISSION_URL=smtp://127.0.0.1:${PORT[SUBMISSION]}
SMTPS_URL=smtps://127.0.0.1:${PORT[SMTPS]}
DAV_URL=http://127.0.0.1:${PORT[DAV]}/
PG_PORT=${PORT[PG]}
PG_URL=postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${PORT[PG]}/${PG_DB}
PG_SOCKET_DIR=${PG_RUN}
PSQL="${PG_BIN}/psql -h ${PG_RUN} -p ${PORT[PG]} -U ${PG_USER} -d ${PG_DB}"
CA_CERT=${DIR}/tls/ca.pem
SERVER_CERT=${DIR}/tls/server.pem
SERVER_KEY=${DIR}/tls/server.key
DOVECOT_CONF=${DIR}/dovecot/dovecot.conf
DOVECOT_USERS_DIR=${DIR}/dovecot/users.d
DOVEADM="doveadm -c ${DIR}/dovecot/dovecot.conf"
POSTFIX_CONFIG_DIR=${DIR}/postfix
DOVECOT_LOG=${DIR}/dovecot.log
POSTFIX_LOG=${DIR}/postfix.log
RADICALE_LOG=${DIR}/radicale.log
POSTGRES_LOG=${DIR}/postgresql.log
ALICE_LOGIN=alice@${MAIL_DOMAIN}
ALICE_PASSWORD=alice-secret
BOB_LOGIN=bob@${MAIL_DOMAIN}
BOB_PASSWORD=bob-secret
SINK_LOGIN=sink@${MAIL_DOMAIN}
SINK_PASSWORD=sink-secret
ENV

# ---------------------------------------------------------------- readiness
wait_for "Dovecot IMAP" imap "${PORT[IMAP]}" "${DIR}/dovecot.log"
phase "waiting for Dovecot IMAPS"
wait_for "Dovecot IMAPS" tcp "${PORT[IMAPS]}" "${DIR}/dovecot.log"
phase "waiting for Dovecot LMTP"
wait_for "Dovecot LMTP" lmtp "${PORT[LMTP]}" "${DIR}/dovecot.log"
phase "waiting for Dovecot ManageSieve"
wait_for "Dovecot ManageSieve" sieve "${PORT[SIEVE]}" "${DIR}/dovecot.log"
phase "waiting for Radicale"
wait_for "Radicale" http "${PORT[DAV]}" "${DIR}/radicale.log"
phase "waiting for Postfix SMTP"
wait_for "Postfix SMTP" smtp "${PORT[SMTP]}" "${DIR}/postfix.log"
phase "waiting for Postfix submission"
wait_for "Postfix submission" smtp "${PORT[SUBMISSION]}" "${DIR}/postfix.log"
phase "waiting for Postfix SMTPS"
wait_for "Postfix SMTPS" tcp "${PORT[SMTPS]}" "${DIR}/postfix.log"

phase "waiting for PostgreSQL"
wait "${pg_job}" || { log_tail "${DIR}/postgresql.log"; die "PostgreSQL did not start"; }

phase "all answering"
# ---------------------------------------------------------------- users
# sink@ receives whatever was addressed outside ${MAIL_DOMAIN} (postfix/sink.regexp).
pids=()
for u in alice bob sink; do
  "${STACK_LIB_DIR}/add-user.sh" "${DIR}" "${u}@${MAIL_DOMAIN}" "${u}-secret" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "${p}" || die "adding the default users failed"; done

T1=$(date +%s%N)
echo "stack: up in $(((T1 - T0) / 1000000)) ms, ${DIR}/stack.env:" >&2
cat "${DIR}/stack.env"
