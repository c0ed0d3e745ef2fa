"""Warehouse behaviour, run once against DuckDB and once against PostgreSQL.

PostgreSQL tests use the server named by TEST_POSTGRES_URL (default: the local `test` database).
Each test gets its own schema through the warehouse URL's `?schema=NAME` parameter, so tests
never see each other's tables, and the schema is dropped afterwards. Without a server they are
skipped, except under CI=true, where a missing server is a failure rather than a silent gap.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import psycopg2
import pytest

from resources.warehouse import (
    TABLE_COLUMNS,
    MixedSourceError,
    Warehouse,
    WarehouseError,
    WarehouseResource,
)
from resources.warehouse_schema import MIGRATIONS
from tests.postgres import PG_URL, drop_schema, require_postgres, with_query

NIGHT = date(2024, 5, 1)


@pytest.fixture
def pg_schema():
    require_postgres()
    schema = f"wh_test_{uuid.uuid4().hex[:12]}"
    yield schema
    drop_schema(schema)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request, tmp_path) -> str:
    """A URL for an empty, unmigrated warehouse of each kind."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path}/nested/warehouse.duckdb"
    schema = request.getfixturevalue("pg_schema")
    return with_query(PG_URL, schema=schema)


@pytest.fixture
def warehouse(warehouse_url) -> Warehouse:
    wh = Warehouse.from_url(warehouse_url, lock_timeout_s=10)
    wh.migrate()
    return wh


def _snapshot(business_id: str, night: date = NIGHT, **extra) -> dict:
    row = {"night": night, "business_id": business_id, "status": "ok", "rating": 4.5}
    row.update(extra)
    return row


def _snapshots(wh: Warehouse) -> list[dict]:
    return wh.query(
        "SELECT night, business_id, status, run_id FROM business_snapshots "
        "ORDER BY night, business_id"
    )


# --------------------------------------------------------------------------------------------
# Migrations


def test_from_url_picks_backend_and_creates_folders(warehouse_url, tmp_path):
    wh = Warehouse.from_url(warehouse_url)
    assert wh.url == warehouse_url
    if warehouse_url.startswith("duckdb"):
        assert wh.kind == "duckdb"
        assert (tmp_path / "nested").is_dir()
    else:
        assert wh.kind == "postgres"


def test_migrate_twice_is_a_noop(warehouse_url):
    wh = Warehouse.from_url(warehouse_url)
    wh.migrate()
    first = wh.query("SELECT version, applied_at FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in first] == [m.version for m in MIGRATIONS]
    wh.append("business_snapshots", [_snapshot("b1")])

    wh.migrate()

    assert wh.query("SELECT version, applied_at FROM schema_migrations ORDER BY version") == first
    assert [r["business_id"] for r in _snapshots(wh)] == ["b1"]
    for table, columns in TABLE_COLUMNS.items():
        rows = wh.query(f"SELECT * FROM {table} WHERE 1 = 0")
        assert rows == []
        got = wh.query_df(f"SELECT * FROM {table}").columns.tolist()
        assert got == columns, table


def test_concurrent_migrations_apply_each_version_once(warehouse_url):
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def migrate() -> None:
        try:
            wh = Warehouse.from_url(warehouse_url, lock_timeout_s=10)
            barrier.wait()
            wh.migrate()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    wh = Warehouse.from_url(warehouse_url)
    versions = wh.query("SELECT version FROM schema_migrations ORDER BY version")
    assert versions == [{"version": m.version} for m in MIGRATIONS]


def test_operations_before_migrate_say_to_migrate(warehouse_url):
    wh = Warehouse.from_url(warehouse_url)
    with pytest.raises(WarehouseError, match="migrate"):
        wh.append("business_snapshots", [_snapshot("b1")])


# --------------------------------------------------------------------------------------------
# replace / append / upsert


def test_replace_twice_for_one_night_leaves_one_copy(warehouse):
    rows = [_snapshot("b1"), _snapshot("b2")]
    other_night = _snapshot("b1", night=NIGHT - timedelta(days=1))
    warehouse.append("business_snapshots", [other_night])

    assert warehouse.replace("business_snapshots", rows, match={"night": NIGHT}) == 2
    # The partition key as Dagster hands it over: a string.
    assert warehouse.replace("business_snapshots", rows, match={"night": "2024-05-01"}) == 2

    got = _snapshots(warehouse)
    assert [(r["night"], r["business_id"]) for r in got] == [
        (date(2024, 4, 30), "b1"),
        (NIGHT, "b1"),
        (NIGHT, "b2"),
    ]


def test_replace_fills_match_columns_and_refuses_rows_outside_the_slice(warehouse):
    warehouse.replace("business_snapshots", [{"business_id": "b1"}], match={"night": NIGHT})
    assert [r["night"] for r in _snapshots(warehouse)] == [NIGHT]

    with pytest.raises(WarehouseError, match="only writes inside the slice"):
        warehouse.replace(
            "business_snapshots",
            [_snapshot("b2", night=date(2024, 5, 2))],
            match={"night": NIGHT},
        )
    assert [r["business_id"] for r in _snapshots(warehouse)] == ["b1"]


def test_replace_with_business_ids_touches_only_those(warehouse):
    warehouse.replace(
        "business_snapshots",
        [_snapshot(b, run_id="first") for b in ("b1", "b2", "b3")],
        match={"night": NIGHT},
    )

    written = warehouse.replace(
        "business_snapshots",
        [_snapshot("b2", run_id="second")],
        match={"night": NIGHT},
        business_ids=["b2", "b3"],
    )

    assert written == 1
    got = {r["business_id"]: r["run_id"] for r in _snapshots(warehouse)}
    assert got == {"b1": "first", "b2": "second"}

    with pytest.raises(WarehouseError, match="not among the business_ids"):
        warehouse.replace(
            "business_snapshots",
            [_snapshot("b1", run_id="third")],
            match={"night": NIGHT},
            business_ids=["b2"],
        )
    assert {r["business_id"]: r["run_id"] for r in _snapshots(warehouse)} == got


def test_replace_with_no_rows_still_deletes(warehouse):
    warehouse.replace("business_snapshots", [_snapshot("b1")], match={"night": NIGHT})
    assert warehouse.replace("business_snapshots", [], match={"night": NIGHT}) == 0
    assert _snapshots(warehouse) == []


def test_replace_refuses_to_empty_a_whole_table(warehouse):
    warehouse.append("business_snapshots", [_snapshot("b1")])
    with pytest.raises(WarehouseError, match="match="):
        warehouse.replace("business_snapshots", [], match={})
    assert len(_snapshots(warehouse)) == 1


@pytest.mark.parametrize(
    "bad_rows",
    [
        pytest.param([_snapshot("b9"), {"business_id": "b8", "nonsense": 1}], id="unknown-column"),
        pytest.param([_snapshot("b9"), _snapshot("b9")], id="duplicate-primary-key"),
        pytest.param([_snapshot("b9"), {"business_id": None}], id="null-in-primary-key"),
        pytest.param([_snapshot("b9", rating="excellent")], id="wrong-type"),
    ],
)
def test_failed_replace_keeps_the_stored_rows(warehouse, bad_rows):
    good = [_snapshot("b1", run_id="good"), _snapshot("b2", run_id="good")]
    warehouse.replace("business_snapshots", good, match={"night": NIGHT})

    with pytest.raises(WarehouseError, match="business_snapshots") as caught:
        warehouse.replace("business_snapshots", bad_rows, match={"night": NIGHT})

    assert "unchanged" in str(caught.value) or "Nothing was written" in str(caught.value)
    assert [(r["business_id"], r["run_id"]) for r in _snapshots(warehouse)] == [
        ("b1", "good"),
        ("b2", "good"),
    ]


def test_append_is_all_or_nothing(warehouse):
    warehouse.append("business_snapshots", [_snapshot("b1")])
    with pytest.raises(WarehouseError, match="rolled back"):
        warehouse.append("business_snapshots", [_snapshot("b2"), _snapshot("b1")])
    assert [r["business_id"] for r in _snapshots(warehouse)] == ["b1"]


def test_unknown_table_is_refused(warehouse):
    with pytest.raises(WarehouseError, match="not a warehouse table"):
        warehouse.append("snapshots", [{"business_id": "b1"}])


def test_upsert_inserts_then_updates_only_given_columns(warehouse):
    created = datetime(2024, 1, 1, 8, 0)
    first = [
        {"business_id": "b1", "name": "Old", "created_at": created, "active": True},
        {"business_id": "b2", "name": "Two", "created_at": created, "active": True},
    ]
    assert warehouse.upsert("tracked_businesses", first, key=["business_id"]) == 2

    later = datetime(2024, 2, 1, 8, 0)
    update = [
        {"business_id": "b1", "name": "Newer", "updated_at": later},
        {"business_id": "b1", "name": "Newest", "updated_at": later},
        {"business_id": "b3", "name": "Three", "updated_at": later},
    ]
    assert warehouse.upsert("tracked_businesses", update, key=["business_id"]) == 2

    got = {
        r["business_id"]: r
        for r in warehouse.query(
            "SELECT business_id, name, created_at, updated_at, active FROM tracked_businesses"
        )
    }
    assert got["b1"] == {
        "business_id": "b1",
        "name": "Newest",
        "created_at": created,
        "updated_at": later,
        "active": True,
    }
    assert got["b2"]["name"] == "Two" and got["b2"]["updated_at"] is None
    assert got["b3"]["name"] == "Three" and got["b3"]["created_at"] is None

    with pytest.raises(WarehouseError, match="primary key"):
        warehouse.upsert("tracked_businesses", update, key=["name"])


# --------------------------------------------------------------------------------------------
# Values


def test_twenty_digit_cid_round_trips_as_text(warehouse):
    cid = "18446744073709551617" + "0"  # 21 digits: past 2**64 either way
    twenty = 98765432109876543210
    warehouse.append(
        "business_snapshots",
        [_snapshot("b1", cid=cid), _snapshot("b2", cid=twenty, review_count=2**62)],
    )
    got = warehouse.query(
        "SELECT business_id, cid, review_count FROM business_snapshots ORDER BY business_id"
    )
    assert got[0]["cid"] == cid
    assert got[1]["cid"] == "98765432109876543210"
    assert got[1]["review_count"] == 2**62
    assert warehouse.query("SELECT business_id FROM business_snapshots WHERE cid = ?", [cid]) == [
        {"business_id": "b1"}
    ]


def test_json_columns_round_trip_as_text(warehouse):
    categories = ["Café", "Bäckerei"]
    hours = {"tuesday": "8-18", "monday": ["8-12", "13-18"]}
    warehouse.append(
        "business_snapshots",
        [
            _snapshot("b1", categories=categories, opening_hours=hours),
            _snapshot("b2", categories='["already", "text"]'),
        ],
    )
    got = warehouse.query(
        "SELECT business_id, categories, opening_hours FROM business_snapshots ORDER BY business_id"
    )
    assert got[0]["categories"] == '["Café", "Bäckerei"]'
    assert got[0]["opening_hours"] == json.dumps(hours, ensure_ascii=False, sort_keys=True)
    assert json.loads(got[0]["opening_hours"]) == hours
    assert got[1]["categories"] == '["already", "text"]'
    assert got[1]["opening_hours"] is None


def test_values_are_normalised_the_same_way_on_both_backends(warehouse):
    aware = datetime(2024, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    warehouse.append(
        "comparison_metrics",
        [
            {
                "night": "2024-05-01",
                "business_id": "b1",
                "rating": float("nan"),
                "review_count": 12.0,
                "set_size": 5,
                "previous_night": datetime(2024, 4, 30),
                "percentile": 87.5,
            }
        ],
    )
    warehouse.append("reports", [{"night": NIGHT, "business_id": "b1", "created_at": aware}])
    warehouse.append("api_usage", [{"night": NIGHT, "run_id": "r", "stage": "s", "service": "x"}])

    metrics = warehouse.query("SELECT * FROM comparison_metrics")[0]
    assert metrics["night"] == NIGHT and metrics["previous_night"] == date(2024, 4, 30)
    assert metrics["rating"] is None
    assert metrics["review_count"] == 12 and isinstance(metrics["review_count"], int)
    assert metrics["set_size"] == 5 and metrics["percentile"] == 87.5
    report = warehouse.query("SELECT created_at, reused FROM reports")[0]
    assert report == {"created_at": datetime(2024, 5, 1, 21, 30), "reused": None}
    assert aware.astimezone(UTC).replace(tzinfo=None) == report["created_at"]

    with pytest.raises(WarehouseError, match="review_count"):
        warehouse.append(
            "comparison_metrics", [{"night": NIGHT, "business_id": "b2", "review_count": "many"}]
        )
    with pytest.raises(WarehouseError, match="does not fit in BIGINT"):
        warehouse.append("api_usage", [{"night": NIGHT, "run_id": "r2", "calls": 2**64}])


def test_query_placeholders_and_results(warehouse):
    warehouse.append("business_snapshots", [_snapshot("b1", title="100% ok?")])
    got = warehouse.query(
        "SELECT title, '50%?' AS literal, review_count FROM business_snapshots "
        "WHERE title LIKE '%ok%' AND business_id = ? -- trailing ? in a comment",
        ("b1",),
    )
    assert got == [{"title": "100% ok?", "literal": "50%?", "review_count": None}]

    totals = warehouse.query(
        "SELECT COUNT(*) AS n, SUM(rating) AS total, SUM(CAST(1 AS BIGINT)) AS ones, "
        "1.5 AS exact FROM business_snapshots"
    )
    assert totals == [{"n": 1, "total": 4.5, "ones": 1, "exact": 1.5}]
    assert [type(v) for v in totals[0].values()] == [int, float, int, float]

    frame = warehouse.query_df("SELECT business_id, rating FROM business_snapshots")
    assert frame.to_dict("records") == [{"business_id": "b1", "rating": 4.5}]

    with pytest.raises(WarehouseError, match="placeholder"):
        warehouse.query("SELECT * FROM business_snapshots WHERE business_id = ?", ())


def test_execute_runs_statements(warehouse):
    warehouse.append("business_snapshots", [_snapshot("b1"), _snapshot("b2")])
    warehouse.execute("DELETE FROM business_snapshots WHERE business_id = ?", ["b1"])
    assert [r["business_id"] for r in _snapshots(warehouse)] == ["b2"]


# --------------------------------------------------------------------------------------------
# Source claims


def test_claim_source_conflict_names_the_url(warehouse):
    assert warehouse.source() is None
    warehouse.claim_source("sample")
    warehouse.claim_source("sample")
    assert warehouse.source() == "sample"

    with pytest.raises(MixedSourceError) as caught:
        warehouse.claim_source("live")

    message = str(caught.value)
    assert warehouse.url in message
    assert "holds sample data" in message and "WAREHOUSE_URL" in message
    assert warehouse.source() == "sample"
    with pytest.raises(WarehouseError, match="sample"):
        warehouse.claim_source("demo")


# --------------------------------------------------------------------------------------------
# Concurrency


def test_concurrent_replaces_of_one_night_leave_exactly_one_copy(warehouse):
    workers, rounds, per_run = 4, 3, 40
    failures: list[BaseException] = []

    def run(worker: int, round_: int, barrier: threading.Barrier) -> None:
        rows = [
            _snapshot(f"b{i:03d}", run_id=f"w{worker}-r{round_}", status=f"s{worker}")
            for i in range(per_run)
        ]
        try:
            barrier.wait()
            Warehouse.from_url(warehouse.url, lock_timeout_s=10).replace(
                "business_snapshots", rows, match={"night": NIGHT}
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    for round_ in range(rounds):
        barrier = threading.Barrier(workers)
        threads = [threading.Thread(target=run, args=(w, round_, barrier)) for w in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert failures == []
        got = _snapshots(warehouse)
        assert len(got) == per_run
        assert len({r["business_id"] for r in got}) == per_run
        # One writer's rows, whole: no mixture of two replaces.
        assert len({r["run_id"] for r in got}) == 1


_HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def test_duckdb_waits_for_another_process_then_succeeds(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    url = f"duckdb:///{path}"
    Warehouse.from_url(url).migrate()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path), "1.2"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()

        impatient = Warehouse.from_url(url, lock_timeout_s=0.2)
        with pytest.raises(WarehouseError, match="another process") as caught:
            impatient.query("SELECT 1 AS one")
        assert str(path) in str(caught.value)

        patient = Warehouse.from_url(url, lock_timeout_s=10)
        patient.append("business_snapshots", [_snapshot("b1")])
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=10)

    assert holder.returncode == 0
    assert waited > 0.5
    assert [r["business_id"] for r in _snapshots(patient)] == ["b1"]


def test_duckdb_bulk_replace_is_fast(tmp_path):
    wh = Warehouse.from_url(f"duckdb:///{tmp_path}/w.duckdb")
    wh.migrate()
    rows = [
        _snapshot(f"b{i:05d}", cid=str(10**19 + i), review_count=i, categories=["a", "b"])
        for i in range(10_000)
    ]
    started = time.perf_counter()
    assert wh.replace("business_snapshots", rows, match={"night": NIGHT}) == 10_000
    elapsed = time.perf_counter() - started
    assert wh.query("SELECT COUNT(*) AS n FROM business_snapshots") == [{"n": 10_000}]
    assert elapsed < 1.5, f"10,000 rows took {elapsed:.2f} s"


# --------------------------------------------------------------------------------------------
# URLs and the Dagster resource


@pytest.mark.parametrize(
    "url",
    [
        "",
        "sqlite:///warehouse.db",
        "warehouse.duckdb",
        "duckdb:///:memory:",
        "mysql://x@127.0.0.1/db",
    ],
)
def test_bad_url_names_warehouse_url(url):
    with pytest.raises(WarehouseError, match="WAREHOUSE_URL"):
        Warehouse.from_url(url)


def test_relative_duckdb_path_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wh = Warehouse.from_url("duckdb:///data/sub/w.duckdb")
    monkeypatch.chdir("/")
    wh.migrate()
    assert (tmp_path / "data" / "sub" / "w.duckdb").is_file()


def test_unreachable_postgres_names_the_url():
    # Port 1 on loopback refuses at once; the password must not appear in the message.
    wh = Warehouse.from_url("postgresql://someone:s3cret@127.0.0.1:1/nowhere")
    with pytest.raises(WarehouseError, match="127.0.0.1:1/nowhere") as caught:
        wh.query("SELECT 1")
    assert "s3cret" not in str(caught.value)


@pytest.mark.postgres
def test_postgres_options_search_path_and_scheme_aliases(pg_schema):
    conn = psycopg2.connect(PG_URL)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE SCHEMA "{pg_schema}"')
    finally:
        conn.close()
    base = PG_URL.split("://", 1)[1]
    for scheme in ("postgresql+psycopg2", "postgres"):
        url = with_query(f"{scheme}://{base}", options=f"-csearch_path={pg_schema}")
        wh = Warehouse.from_url(url)
        assert wh.kind == "postgres"
        wh.migrate()
        wh.replace("business_snapshots", [_snapshot(scheme)], match={"night": NIGHT})
        assert wh.query("SELECT current_schema() AS s") == [{"s": pg_schema}]
    assert [r["business_id"] for r in _snapshots(wh)] == ["postgres"]


def test_resource_opens_a_warehouse(tmp_path):
    resource = WarehouseResource(url=f"duckdb:///{tmp_path}/r.duckdb")
    wh = resource.open()
    assert isinstance(wh, Warehouse) and wh.kind == "duckdb"
    wh.migrate()
    assert wh.source() is None


def test_resource_works_inside_a_dagster_run(tmp_path):
    import dagster as dg

    @dg.asset
    def nightly(warehouse: WarehouseResource) -> int:
        wh = warehouse.open()
        wh.migrate()
        return wh.replace("business_snapshots", [_snapshot("b1")], match={"night": NIGHT})

    url = f"duckdb:///{tmp_path}/dagster.duckdb"
    result = dg.materialize([nightly], resources={"warehouse": WarehouseResource(url=url)})
    assert result.success and result.output_for_node("nightly") == 1
    assert [r["business_id"] for r in _snapshots(Warehouse.from_url(url))] == ["b1"]
