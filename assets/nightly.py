"""The nightly assets: thin wiring from Dagster to the stages in `workflows`.

Each asset covers every partition of its run (a backfill of many nights is one run) and every
tracked business, unless the run's tag names a few businesses (an on-demand comparison).
"""

from contextlib import contextmanager
from datetime import date

import dagster as dg
import httpx
import openai

from assets.partitions import BUSINESS_IDS_TAG, api_retry_policy, nightly_partitions
from resources.dagster_requests import RequestStoreResource
from resources.dagster_resources import LlmResource, ReportFilesResource, SerperResource
from resources.llm import LlmFatalError
from resources.serper import SerperFatalError
from resources.warehouse import WarehouseError, WarehouseResource
from workflows import reporting, requests, stages
from workflows.night import Night, StageSummary
from workflows.requests import REQUEST_ID_TAG
from workflows.tracking import ensure_sample_businesses

_single_run = dg.BackfillPolicy.single_run()


def _nights(context: dg.AssetExecutionContext) -> list[date]:
    return [date.fromisoformat(key) for key in context.partition_keys]


def _business_ids(context: dg.AssetExecutionContext) -> list[str] | None:
    tag = context.run.tags.get(BUSINESS_IDS_TAG)
    return [b for b in tag.split(",") if b] if tag else None


def _night(context, night: date, warehouse, source: str) -> Night:
    return Night(night, context.run.run_id, source, warehouse, _business_ids(context), context.log)


def _recorded_source(store) -> str:
    """Where the warehouse's data comes from, as the profiles stage recorded it."""
    return store.source() or "sample"


# What may heal by itself within minutes, and so is worth Dagster's retry policy: the network
# and the services behind it. Per-business trouble never gets here (it is recorded as data).
_NO_RUN_RETRY = "dagster/retry_on_asset_or_op_failure"
_TRANSIENT = (ConnectionError, TimeoutError, httpx.TransportError, openai.APIConnectionError)


@contextmanager
def _fatal_errors_stop_the_run(context):
    """Errors that would hit every business fail the step at once, without Dagster's retries.

    That is every error but a transient one: a bad key, no credits, mixed data sources, a bad
    setting or a bug will not heal in thirty seconds, and retrying would only hide it. The
    warehouse already waits out a busy DuckDB file itself.
    """
    try:
        yield
    except (dg.Failure, *_TRANSIENT):
        raise
    except Exception as error:
        known = isinstance(error, SerperFatalError | LlmFatalError | WarehouseError)
        description = str(error) if known else f"{type(error).__name__}: {error}"
        # Run retries (deploy/dagster.yaml) would start the whole run again and meet the same
        # error; this tag tells the retry daemon not to.
        context.instance.add_run_tags(context.run.run_id, {_NO_RUN_RETRY: "false"})
        raise dg.Failure(description=description, allow_retries=False) from error


def _result(summaries: dict[date, StageSummary], preview_label: str) -> dg.MaterializeResult:
    metadata: dict = {}
    for summary in summaries.values():
        for key, value in {**summary.counts, **summary.usage}.items():
            metadata[key] = metadata.get(key, 0) + value
    metadata = {k: round(v, 6) if isinstance(v, float) else v for k, v in metadata.items()}
    if len(summaries) > 1:
        metadata["nights"] = len(summaries)
    last = summaries[max(summaries)] if summaries else None
    if last is not None and last.preview:
        metadata[preview_label] = dg.MetadataValue.md(last.preview)
    if last is not None and last.failures:
        failed = "\n".join(f"- `{b}`: {e}" for b, e in list(last.failures.items())[:20])
        metadata["failures"] = dg.MetadataValue.md(failed)
    return dg.MaterializeResult(metadata=metadata)


def _each_night(context, warehouse: WarehouseResource, stage) -> dict[date, StageSummary]:
    """Run `stage(night_context)` for every night of this run, stopping on fatal errors."""
    with _fatal_errors_stop_the_run(context):
        store = warehouse.open()
        source = _recorded_source(store)
        return {night: stage(_night(context, night, store, source)) for night in _nights(context)}


@dg.asset(
    partitions_def=nightly_partitions,
    backfill_policy=_single_run,
    retry_policy=api_retry_policy,
    group_name="nightly",
    kinds={"serper", "python"},
    # Pools cap how many steps calling one API run at once across all runs (deploy/dagster.yaml).
    pool="serper",
)
def business_profiles(
    context: dg.AssetExecutionContext,
    serper: SerperResource,
    warehouse: WarehouseResource,
    request_store: RequestStoreResource,
) -> dg.MaterializeResult:
    """Tonight's Google profile of every tracked business, one row each (Serper /maps)."""
    with _fatal_errors_stop_the_run(context):
        store = warehouse.open()
        source = "sample" if serper.offline else "live"
        store.claim_source(source)
        if serper.offline:
            context.log.warning(
                "SERPER_API_KEY is not set: running on the bundled sample market, not live data"
            )
            ensure_sample_businesses(store, context.log)
        request_id = context.run.tags.get(REQUEST_ID_TAG)
        if request_id:
            # An on-demand comparison: the run writes the business in, so that neither the
            # `request` command nor the sensor ever waits for the warehouse.
            try:
                requests.register(request_store.open(), store, request_id, source)
            except LookupError as error:
                raise dg.Failure(description=str(error), allow_retries=False) from error
    summaries = _each_night(
        context,
        warehouse,
        lambda ctx: stages.business_profiles(ctx, lambda w: serper.run(ctx.night, w)),
    )
    return _result(summaries, "preview")


@dg.asset(
    partitions_def=nightly_partitions,
    backfill_policy=_single_run,
    retry_policy=api_retry_policy,
    group_name="nightly",
    deps=[business_profiles],
    kinds={"serper", "python"},
    pool="serper",
)
def competitor_sets(
    context: dg.AssetExecutionContext, serper: SerperResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Each business's nearest, most similar competitors, with the reasons for each choice."""
    summaries = _each_night(
        context,
        warehouse,
        lambda ctx: stages.competitor_sets(
            ctx,
            lambda w: serper.run(ctx.night, w),
            results=serper.nearby_results,
            top_k=serper.competitor_count,
        ),
    )
    return _result(summaries, "preview")


@dg.asset(
    partitions_def=nightly_partitions,
    backfill_policy=_single_run,
    group_name="nightly",
    deps=[competitor_sets],
    kinds={"python"},
)
def comparison_metrics(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Each business against its set: adjusted rating, rank, completeness, change since."""
    summaries = _each_night(context, warehouse, stages.comparison_metrics)
    return _result(summaries, "businesses")


@dg.asset(
    partitions_def=nightly_partitions,
    backfill_policy=_single_run,
    retry_policy=api_retry_policy,
    group_name="nightly",
    deps=[comparison_metrics],
    kinds={"openai", "python"},
    pool="llm",
)
def reports(
    context: dg.AssetExecutionContext,
    llm: LlmResource,
    warehouse: WarehouseResource,
    report_files: ReportFilesResource,
) -> dg.MaterializeResult:
    """A report per business with prioritised suggestions, by the LLM or by rules."""
    summaries = _each_night(
        context,
        warehouse,
        lambda ctx: reporting.reports(ctx, llm.run, report_files.folder()),
    )
    return _result(summaries, "report")
