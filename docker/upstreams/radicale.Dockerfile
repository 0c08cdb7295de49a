# Radicale from Debian, as in the test stack.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends radicale \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o radicale -g radicale /var/lib/radicale/collections
COPY docker/upstreams/radicale.conf /etc/radicale/config
USER radicale
VOLUME /var/lib/radicale
EXPOSE 5232
CMD ["radicale", "--config", "/etc/radicale/config"]
