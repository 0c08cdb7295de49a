# Postfix from Debian: port 25 in, 587 submission with Dovecot SASL.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix \
 && rm -rf /var/lib/apt/lists/*
COPY docker/upstreams/postfix-main.cf /etc/postfix/main.cf
RUN postconf -M "submission/inet=submission inet n - n - - smtpd" \
 && postconf -P "submission/inet/smtpd_sasl_auth_enable=yes" \
                "submission/inet/smtpd_relay_restrictions=permit_sasl_authenticated,reject" \
                "submission/inet/smtpd_recipient_restrictions=permit_sasl_authenticated,reject" \
 && postconf -F "*/*/chroot = n"
EXPOSE 25 587
CMD ["postfix", "start-fg"]
