# Dovecot (IMAP, LMTP, ManageSieve) from Debian, as in the test stack.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends dovecot-imapd dovecot-lmtpd dovecot-managesieved dovecot-sieve \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 5000 --home-dir /var/mail vmail \
 && install -d -o vmail -g vmail /var/mail
COPY docker/upstreams/dovecot.conf /etc/dovecot/dovecot.conf
VOLUME /var/mail
EXPOSE 143 24 4190 12345
CMD ["dovecot", "-F"]
