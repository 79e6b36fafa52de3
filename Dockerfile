# kgtwin: one image for every service; the command picks it (docs/deployment.md).
#   kgtwin serve     the whole twin in one process (edge profile), the default
#   kgtwin api | ingest | worker    one service each (microservices: compose, Helm)
#
#   docker build -t kgtwin .
#   podman build --format docker -t kgtwin .    (the OCI format has no HEALTHCHECK)
#
# PYTHON_IMAGE: any Debian-based image whose python3 is 3.12 or newer and has the venv
# module; both stages use the same one, so the virtual environment built in the first
# finds its interpreter in the second.
ARG PYTHON_IMAGE=docker.io/library/python:3.12-slim-bookworm

# --- build: every dependency as a wheel, then kgtwin's own, installed into /opt/kgtwin --
FROM ${PYTHON_IMAGE} AS build
# Only for builds behind a package mirror or a TLS-inspecting proxy (mount its CA bundle
# for the build); they exist in this stage alone, so the image keeps neither.
ARG PIP_INDEX_URL
ARG PIP_CERT
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/kgtwin
# The dependencies get a layer of their own: rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python3 -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        >requirements.txt \
    && /opt/kgtwin/bin/pip wheel --wheel-dir /wheels --requirement requirements.txt
# Everything .dockerignore lets through: the packages pyproject.toml names (a package
# added there needs no line here), README.md and LICENSE.
COPY . .
RUN /opt/kgtwin/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/kgtwin/bin/pip install --no-index --find-links /wheels kgtwin \
    && /opt/kgtwin/bin/pip uninstall --yes pip \
    && find /opt/kgtwin/lib -depth -type d -name tests -path '*/site-packages/*/*' -exec rm -rf {} + \
    && /opt/kgtwin/bin/kgtwin --help >/dev/null

# --- runtime: the interpreter, the virtual environment and a user; no compiler, no pip ---
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="kgtwin" \
      org.opencontainers.image.description="Knowledge-graph digital twin: DTDL ontology, twin graph, telemetry, simulation and APIs" \
      org.opencontainers.image.licenses="MIT"
# A fixed numeric user, so Kubernetes' runAsNonRoot can check it and volumes can be
# prepared for it (fsGroup 10001).
RUN groupadd --gid 10001 kgtwin \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/kgtwin --shell /usr/sbin/nologin kgtwin \
    && mkdir -p /var/lib/kgtwin/data /var/lib/kgtwin/spool \
    && chown -R 10001:10001 /var/lib/kgtwin
COPY --from=build /opt/kgtwin /opt/kgtwin
COPY deploy/docker/healthcheck.py /usr/local/lib/kgtwin/healthcheck.py
# KGTWIN_HOST: a service in a container listens on the container's interfaces, which
# kgtwin accepts only with authentication on (KGTWIN_API_KEYS or KGTWIN_OIDC_*).
# The embedded defaults keep their files (ingest's spool included) under the working
# directory, /var/lib/kgtwin/data: one volume there holds all of an edge twin's state.
# /var/lib/kgtwin/spool is for an ingest service's own spool volume (compose, Helm).
ENV PATH=/opt/kgtwin/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KGTWIN_HOST=0.0.0.0
WORKDIR /var/lib/kgtwin
USER 10001:10001
# 8000: GraphQL, /healthz, /readyz, /metrics (serve, api); 8001: the health port of
# ingest and worker (KGTWIN_HEALTH_PORT); 1883: serve's embedded broker when it is told
# to listen beyond loopback (KGTWIN_BROKER_URL=embedded://0.0.0.0:1883).
EXPOSE 8000 8001 1883
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/kgtwin/bin/python", "/usr/local/lib/kgtwin/healthcheck.py"]
ENTRYPOINT ["kgtwin"]
CMD ["serve"]
