"""The deployment's files: the Dagster instance loads from deploy/dagster.yaml on PostgreSQL, and
docker-compose.yml, the Dockerfile and .env.example agree with each other and with the code."""

from __future__ import annotations

import re
import shlex
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml

from pipelines.definitions import build_definitions
from resources.settings import Settings
from tests.postgres import dagster_storage_env, fresh_database
from workflows.requests import REQUEST_ID_TAG

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DAGSTER_SERVICES = ("code-server", "webserver", "daemon")


@pytest.fixture
def deployment_env(tmp_path, monkeypatch):
    """DAGSTER_HOME holding deploy/dagster.yaml, its storage in a fresh PostgreSQL database."""
    with fresh_database("ci_dagster") as url:
        shutil.copy(ROOT / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
        for key, value in dagster_storage_env(url).items():
            monkeypatch.setenv(key, value)
        yield tmp_path


@pytest.mark.postgres
def test_the_deployment_instance_keeps_everything_in_postgres_and_queues_runs(deployment_env):
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        storages = (instance.run_storage, instance.event_log_storage, instance.schedule_storage)
        assert [type(s).__name__ for s in storages] == [
            "PostgresRunStorage",
            "PostgresEventLogStorage",
            "PostgresScheduleStorage",
        ]
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 4
        # The tag the comparison sensor puts on its runs: at most two requests run at once.
        limits = config.run_queue_config.tag_concurrency_limits
        assert limits == [{"key": REQUEST_ID_TAG, "limit": 2}]
        # Pools get explicit limits when the daemon starts (dagster-io/dagster#33552).
        assert config.pool_config.default_pool_limit is None
        assert config.pool_config.pool_granularity.value == "op"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert not instance.telemetry_enabled


def test_steps_calling_serper_and_the_llm_take_a_pool_slot():
    defs = build_definitions(Settings())
    pools = {
        key: defs.resolve_assets_def(key).op.pool
        for key in ("business_profiles", "competitor_sets", "comparison_metrics", "reports")
    }
    assert pools == {
        "business_profiles": "serper",
        "competitor_sets": "serper",
        "comparison_metrics": None,
        "reports": "llm",
    }


def test_every_compose_service_has_a_health_check_and_named_volumes():
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "redis", *DAGSTER_SERVICES}
    assert all("healthcheck" in s for s in services.values())
    declared = set(COMPOSE["volumes"])
    used = {
        v.split(":")[0]
        for s in services.values()
        for v in s.get("volumes", [])
        if not v.startswith(".")
    }
    assert used == declared
    for name in DAGSTER_SERVICES:
        assert services[name]["env_file"] == ".env"
        assert "dagster-storage:/opt/dagster/home/storage" in services[name]["volumes"]


def test_the_webserver_is_published_on_loopback_unless_told_otherwise():
    [port] = COMPOSE["services"]["webserver"]["ports"]
    assert port.startswith("${WEBSERVER_BIND:-127.0.0.1}:")
    assert all("ports" not in s for n, s in COMPOSE["services"].items() if n != "webserver")


def test_every_variable_compose_reads_is_documented_in_env_example():
    example = (ROOT / ".env.example").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    missing = sorted(v for v in used if not re.search(rf"^#? ?{v}=", example, re.M))
    assert missing == []


def test_the_image_contains_every_package_of_the_project():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "Dockerfile").read_text(), re.M))
    # Copying a top-level folder brings its subpackages (resources.warehouse) along.
    assert copied == {name.split(".")[0] for name in packages["packages"]}


def test_stack_sh_runs_the_commands_the_compose_services_run():
    """Without Docker, scripts/stack.sh stands in for the three Dagster services: same programs,
    same flags, the same pool limits set first; only hosts, ports and paths differ."""
    script = (ROOT / "scripts" / "stack.sh").read_text()
    for name in DAGSTER_SERVICES:
        command = COMPOSE["services"][name]["command"]
        if command[:2] == ["sh", "-c"]:
            steps = [step.strip() for step in command[2].split("&&")]
            for step in steps[:-1]:
                program, *args = step.split('"')[0].split()
                assert f'"$BIN/{program}" {" ".join(args)}' in script, step
            command = shlex.split(steps[-1].removeprefix("exec "))
        flags = [w for w in command if w.startswith("--")]
        subcommand = "" if command[1].startswith("--") else command[1]
        assert f'"$BIN/{command[0]}" {subcommand}'.strip() in script
        for flag in flags:
            assert flag in script, f"{name}: {flag}"
    assert "--module-name pipelines.definitions --attribute defs" in script
