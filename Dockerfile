# vroom in a container: see docs/deploy.md (ports, the announce address, volumes).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin vroom

FROM debian:bookworm-slim
RUN useradd --system --home-dir /data --shell /usr/sbin/nologin vroom \
 && mkdir /data && chown vroom:vroom /data
COPY --from=build /src/target/release/vroom /usr/local/bin/vroom
USER vroom
VOLUME /data
ENV VROOM_DATA_DIR=/data \
    VROOM_LISTEN=0.0.0.0:8080 \
    VROOM_RTC_BIND_IP=0.0.0.0 \
    VROOM_RTC_UDP_PORT=50000 \
    VROOM_RTC_TCP_PORT=50000 \
    VROOM_TURN_UDP_PORT=3478 \
    VROOM_TURN_TCP_PORT=3478
EXPOSE 8080/tcp 50000/udp 50000/tcp 3478/udp 3478/tcp
STOPSIGNAL SIGTERM
ENTRYPOINT ["vroom"]
CMD ["serve"]
