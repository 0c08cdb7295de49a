#!/usr/bin/env bash
# Submit an RFC 5322 message to the stack's inbound MTA (Postfix, no auth), as a
# remote server would; Postfix delivers @MAIL_DOMAIN recipients to Dovecot over LMTP.
#   tests/stack/deliver.sh DIR FROM TO FILE      (FILE "-" reads stdin)
# TO may list several recipients separated by commas.
set -euo pipefail
# shellcheck source=tests/stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 4 ]] || die "usage: deliver.sh DIR FROM TO FILE"
DIR=$(abs_dir "$1")
load_env "${DIR}"
# The script goes in by -c so that stdin stays free for FILE "-".
script='
import smtplib, sys
port, sender, rcpts, path = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(","), sys.argv[4]
data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    refused = s.sendmail(sender, rcpts, data)
if refused:
    sys.exit(f"deliver.sh: refused recipients: {refused}")
'
python3 -c "${script}" "${SMTP_PORT}" "$2" "$3" "$4"
