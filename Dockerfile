# The project image: one image for the code location server, the webserver and the daemon
# (docker-compose.yml picks the command). Build: docker build -t competitor-insights .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home \
    DATA_DIR=/var/lib/competitor-insights

WORKDIR /opt/competitor-insights

# Dependencies first, from pyproject.toml alone, so that a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps))" \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY README.md ./
COPY insights ./insights
COPY resources ./resources
COPY workflows ./workflows
COPY assets ./assets
COPY pipelines ./pipelines
COPY schedules ./schedules
COPY cli ./cli
COPY standins ./standins
RUN pip install --no-deps .
# For the move from an embedded DuckDB warehouse (README: Production).
COPY scripts/copy_warehouse.py ./scripts/copy_warehouse.py

# The instance (PostgreSQL storage, run queue, pools, retries) and the code location's address.
COPY deploy/dagster.yaml deploy/workspace.yaml ${DAGSTER_HOME}/

# Not root: the processes need to write only their data folder and Dagster's storage folder,
# which docker-compose.yml mounts as named volumes.
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin insights \
    && mkdir -p "${DAGSTER_HOME}/storage" "${DATA_DIR}" \
    && chown -R insights:insights "${DAGSTER_HOME}" "${DATA_DIR}"
USER insights
WORKDIR ${DAGSTER_HOME}

EXPOSE 3000 4000
# The code location server by default; docker-compose.yml sets each service's command.
CMD ["dagster", "code-server", "start", "--host", "0.0.0.0", "--port", "4000", \
     "--module-name", "pipelines.definitions", "--attribute", "defs", \
     "--location-name", "competitor-insights"]
