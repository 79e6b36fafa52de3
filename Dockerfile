# One image for the kgtwin services (api, ingest, worker); docker-compose.yml picks the verb.
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY ontology ontology
COPY graph graph
COPY ingest ingest
COPY simulation simulation
COPY api api
COPY kgtwin kgtwin
RUN pip install . && useradd --create-home kgtwin
USER kgtwin
EXPOSE 8000
ENTRYPOINT ["kgtwin"]
CMD ["api", "--host", "0.0.0.0"]
