"""Latency of an on-demand comparison: from `request` to the stored report, with `dagster dev`
(webserver and daemon) running and stand-ins for Serper and the LLM that answer at once.

Each request is made after the previous one finished, and its time is split into
- sensor wait: request recorded -> run created by the comparison sensor,
- run start: run created -> run started (queue, new process, code loaded),
- work: run started -> report stored and the request marked done.

    .venv/bin/python bench/request_latency.py --requests 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dagster_dev import dagster_dev, prepare  # noqa: E402

BUSINESSES = [
    ("Bean Theory Coffee", "Austin, Texas, United States", "us", "en"),
    ("Barton Creek Dental", "Austin, Texas, United States", "us", "en"),
    ("Studio 7 Hair Salon", "Austin, Texas, United States", "us", "en"),
    ("Café Müller", "Berlin, Germany", "de", "de"),
    ("Shibuya Roast Lab", "Shibuya, Tokyo, Japan", "jp", "en"),
    ("Smile Dental", "Toronto, Ontario, Canada", "ca", "en"),
    ("Maple Leaf Roasters", "Toronto, Ontario, Canada", "ca", "en"),
    ("Zahnzentrum Mitte", "Berlin, Germany", "de", "en"),
]


def _seconds(moment) -> float:
    return moment.replace(tzinfo=UTC).timestamp() if moment.tzinfo is None else moment.timestamp()


def wait_for_daemon(instance, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = instance.get_daemon_statuses(["SENSOR", "QUEUED_RUN_COORDINATOR"])
        if all(s.healthy for s in status.values()):
            return
        time.sleep(0.5)
    raise RuntimeError("the Dagster daemon did not report healthy")


def one_request(store, instance, business, timeout_s: float = 180) -> dict:
    import dagster as dg

    from insights.tracking import make_business
    from resources.settings import Settings
    from workflows.requests import REQUEST_ID_TAG

    name, location, gl, hl = business
    request = store.add(make_business(name, None, location, gl, hl), Settings.from_env().today())
    deadline = time.monotonic() + timeout_s
    while (done := store.get(request.id)).status == "queued":
        if time.monotonic() > deadline:
            raise RuntimeError(f"request {request.id} did not finish in {timeout_s:.0f} s")
        time.sleep(0.05)
    if done.status != "done":
        raise RuntimeError(f"request {request.id} {done.status}: {done.error}")
    filters = dg.RunsFilter(tags={REQUEST_ID_TAG: request.id})
    [record] = instance.get_run_records(filters=filters, limit=1)
    created, finished = _seconds(request.created_at), _seconds(done.finished_at)
    run_created = _seconds(record.create_timestamp)
    return {
        "business": business[0],
        "sensor wait": run_created - created,
        "run start": record.start_time - run_created,
        "work": finished - record.start_time,
        "total": finished - created,
    }


def summarise(rows: list[dict]) -> None:
    parts = ["sensor wait", "run start", "work", "total"]
    print(f"{'request':<22}" + "".join(f"{p:>13}" for p in parts))
    for row in rows:
        print(f"{row['business'][:21]:<22}" + "".join(f"{row[p]:>12.2f}s" for p in parts))
    for name, pick in (("median", statistics.median), ("min", min), ("max", max)):
        print(f"{name:<22}" + "".join(f"{pick(r[p] for r in rows):>12.2f}s" for p in parts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--port", type=int, default=3377)
    args = parser.parse_args()

    from standins.llm_server import LLMStandin
    from standins.serper_server import SerperStandin

    with (
        tempfile.TemporaryDirectory(prefix="request-latency-") as tmp,
        SerperStandin(api_key="bench") as serper,
        LLMStandin(api_key="bench") as llm,
    ):
        folder = Path(tmp)
        env = prepare(
            folder,
            SERPER_API_KEY="bench", SERPER_BASE_URL=serper.url, SERPER_REQUESTS_PER_SECOND="500",
            OPENAI_API_KEY="bench", OPENAI_BASE_URL=llm.url, LLM_MODEL="standin-model",
            LLM_REQUESTS_PER_SECOND="500",
        )  # fmt: skip
        import os

        os.environ.update({k: env[k] for k in ("DATA_DIR", "DAGSTER_HOME")})
        import dagster as dg

        from resources.request_store import RequestStore
        from resources.settings import Settings

        store = RequestStore.from_url(Settings.from_env().request_store_url)
        started = time.monotonic()
        with dagster_dev(env, args.port, folder / "dagster-dev.log") as url:
            print(f"dagster dev answered on {url} after {time.monotonic() - started:.1f} s")
            with dg.DagsterInstance.get() as instance:
                wait_for_daemon(instance)
                # Not counted: the first run also loads the code location and fills caches.
                warm = one_request(store, instance, BUSINESSES[0])
                print(f"warm-up request: {warm['total']:.2f} s (not counted)")
                rows = [
                    one_request(store, instance, BUSINESSES[i % len(BUSINESSES)])
                    for i in range(args.requests)
                ]
        summarise(rows)
        print(f"Serper stand-in calls: {serper.stats['requests']}, LLM calls: "
              f"{llm.stats['requests']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
