"""Benchmark of the nightly job: N tracked businesses against local Serper and LLM stand-ins.

The stand-ins run in processes of their own (as the real services would be elsewhere), with the
latency, rate limit and error rate given; the job runs in this process exactly as the CLI runs
it. Prints wall time against the lower bound the rate limits set, spend per business, 429s and
peak memory, then runs the same night again to show what a rerun costs.

    .venv/bin/python bench/nightly.py --businesses 1000 --rps 50 --latency 0.3
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import date
from pathlib import Path

NIGHT = date(2026, 12, 3)


@contextmanager
def standin(module: str, *args: str):
    """Start `python -m module args` and yield the URL it prints; stop it afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        if "=" not in line:
            raise RuntimeError(f"{module} did not start: {line!r}")
        yield line.split("=", 1)[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


def stats(url: str) -> dict:
    base = url.removesuffix("/v1")
    with urllib.request.urlopen(f"{base}/_stats", timeout=5) as answer:
        return json.load(answer)


def tracked_csv(businesses: int, seed: int) -> str:
    from standins.market import SampleMarket

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["name", "website", "location", "gl", "hl"])
    writer.writeheader()
    for row in SampleMarket.synthetic(businesses, seed=seed).tracked_rows():
        writer.writerow({k: row.get(k) or "" for k in writer.fieldnames})
    return out.getvalue()


def run_once(settings, label: str) -> tuple[float, dict]:
    import dagster as dg

    from pipelines.definitions import build_definitions

    job = build_definitions(settings).resolve_job_def("nightly_refresh_job")
    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            partition_key=NIGHT.isoformat(),
            instance=instance,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    wall = time.perf_counter() - started
    assert result.success, f"{label} run failed"
    return wall, result


def usage_by_stage(warehouse, run_id: str) -> dict[str, dict]:
    rows = warehouse.query("SELECT * FROM api_usage WHERE run_id = ?", [run_id])
    return {r["stage"]: r for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--businesses", type=int, default=1000)
    parser.add_argument("--rps", type=float, default=50, help="Serper rate limit (both sides)")
    parser.add_argument("--llm-rps", type=float, default=50, help="LLM rate (our setting)")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per request")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of Serper 5xx")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from resources.settings import Settings
    from resources.warehouse import Warehouse
    from workflows.tracking import import_csv_text

    serper_args = ["--synthetic", str(args.businesses), "--api-key", "bench"]
    serper_args += ["--latency", str(args.latency), "--rps", str(args.rps)]
    serper_args += ["--error-rate", str(args.error_rate), "--as-of", NIGHT.isoformat()]
    with (
        tempfile.TemporaryDirectory(prefix="ci-bench-") as folder,
        standin("standins.serper_server", *serper_args) as serper_url,
        standin("standins.llm_server", "--latency", str(args.latency)) as llm_url,
    ):
        settings = Settings(
            serper_api_key="bench",
            serper_base_url=serper_url,
            serper_requests_per_second=args.rps,
            serper_concurrency=args.concurrency,
            openai_api_key="bench",
            openai_base_url=llm_url,
            llm_model="standin-model",
            llm_requests_per_second=args.llm_rps,
            llm_concurrency=args.concurrency,
            data_dir=Path(folder),
        )
        warehouse = Warehouse.from_url(settings.warehouse_url)
        warehouse.migrate()
        imported = import_csv_text(warehouse, tracked_csv(args.businesses, args.seed), "live")
        n = imported.added

        wall, result = run_once(settings, "first")
        usage = usage_by_stage(warehouse, result.run_id)
        serper_before = stats(serper_url)
        llm_calls_first = stats(llm_url)["requests"]
        serper_calls = sum(usage[s]["calls"] for s in ("business_profiles", "competitor_sets"))
        credits = sum(usage[s]["credits"] for s in ("business_profiles", "competitor_sets"))
        bound = serper_calls / args.rps + usage["reports"]["calls"] / args.llm_rps
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        wall2, result2 = run_once(settings, "second")
        usage2 = usage_by_stage(warehouse, result2.run_id)
        reports = warehouse.query("SELECT count(*) AS n FROM reports")[0]["n"]
        llm_calls_second = stats(llm_url)["requests"] - llm_calls_first

    print(f"tracked businesses            {n}")
    print(f"reports written               {reports}")
    print(f"wall time                     {wall:.1f} s")
    for stage in ("business_profiles", "competitor_sets", "reports"):
        u = usage[stage]
        print(f"  {stage:<27} calls {u['calls']:>5}  cache hits {u['cache_hits']:>5}")
    print(f"Serper calls per business     {serper_calls / n:.2f}")
    print(f"Serper credits per business   {credits / n:.2f}")
    print(f"LLM calls                     {usage['reports']['calls']}")
    print(f"429 responses received        {serper_before['rate_limited']}")
    print(
        f"rate-limit lower bound        {bound:.1f} s "
        f"(Serper {serper_calls} / {args.rps:g} per s + LLM "
        f"{usage['reports']['calls']} / {args.llm_rps:g} per s)"
    )
    print(f"wall / lower bound            {wall / bound:.2f}" if bound else "no calls made")
    print(f"peak memory (this process)    {peak_mb:.0f} MB")
    second_serper = sum(usage2[s]["calls"] for s in ("business_profiles", "competitor_sets"))
    print(
        f"second run of the same night  {wall2:.1f} s, Serper calls {second_serper}, "
        f"LLM calls {llm_calls_second}"
    )


if __name__ == "__main__":
    main()
