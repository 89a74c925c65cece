# One image for both services; the command chooses which one runs:
#   docker build -t drift-retrain-bridge .
#   docker run --rm --network host drift-retrain-bridge drift-exporter simulate
#   docker run --rm drift-retrain-bridge drift-bridge --help
# The default command is the bridge with /etc/drift-bridge/bridge.yml; docker-compose.yml runs
# both services with Prometheus, Alertmanager and Grafana.

# Build stage: install the project and its dependencies into a virtual environment, so the final
# image gets them without the source tree, pip's build files or the build backend.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/drift-retrain-bridge
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter/ exporter/
COPY bridge/ bridge/
COPY common/ common/
COPY demo/ demo/
RUN /opt/drift-retrain-bridge/bin/pip install --no-cache-dir .

FROM python:3.11-slim
COPY --from=build /opt/drift-retrain-bridge /opt/drift-retrain-bridge
# The venv first on PATH: the console scripts, and the `python` that the bridge's command target
# runs (it passes PATH on to the job) is the one with the project installed.
ENV PATH=/opt/drift-retrain-bridge/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HEALTHCHECK_URL=http://127.0.0.1:9912/healthz
# A fixed uid, so a volume's ownership can be set for it (docker-compose.yml does) and a
# numeric USER lets Kubernetes check runAsNonRoot. /etc/drift-bridge is the bridge's config
# directory: bridge.yml, its token and its SQLite store (relative paths resolve from there).
RUN groupadd --system --gid 10001 drift \
    && useradd --system --uid 10001 --gid drift --create-home --home-dir /home/drift \
       --shell /usr/sbin/nologin drift \
    && install -d -o drift -g drift -m 0750 /etc/drift-bridge
USER 10001:10001
WORKDIR /home/drift
EXPOSE 9911 9912
# Either service: HEALTHCHECK_URL is the bridge's /healthz by default; for the exporter set it to
# http://127.0.0.1:9911/-/healthy. No proxy: the URL is this container's own loopback.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open(os.environ['HEALTHCHECK_URL'], timeout=4)"]
CMD ["drift-bridge", "serve", "--config.file=/etc/drift-bridge/bridge.yml"]
