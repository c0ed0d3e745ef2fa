#!/bin/sh
# Run once by the postgres image on an empty data volume: POSTGRES_DB (Dagster's runs, event
# logs and schedules) exists already; this adds the warehouse's own database.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set db="$WAREHOUSE_DB" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
