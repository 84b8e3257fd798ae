# The Prometheus way: the binary is built outside (make crossbuild, or `make docker`, which builds
# .build/linux-$(DOCKER_ARCH)/nova_image_exporter first) and copied into Prometheus's busybox image.
ARG ARCH="amd64"
ARG OS="linux"
FROM quay.io/prometheus/busybox-${OS}-${ARCH}:latest
LABEL maintainer="The nova_image_exporter authors"
LABEL org.opencontainers.image.source="https://github.com/nova-image-exporter/nova_image_exporter"
LABEL org.opencontainers.image.licenses="Apache-2.0"

ARG ARCH="amd64"
ARG OS="linux"
COPY .build/${OS}-${ARCH}/nova_image_exporter /bin/nova_image_exporter
COPY LICENSE /LICENSE

EXPOSE 9879
USER nobody
ENTRYPOINT ["/bin/nova_image_exporter"]
