"""Asset checks on each nightly partition, thin wiring over `workflows.quality`.

Dagster blocks downstream assets only when a blocking check fails with ERROR severity. The
failed-lookup share and the metric ranges block (ERROR: the night is unusable as a whole); empty
competitor sets and invalid reports only warn (WARN: worth a look, no reason to hold back the
other businesses' reports).
"""

import warnings

import dagster as dg

from assets.nightly import (
    _each_night,
    business_profiles,
    comparison_metrics,
    competitor_sets,
    reports,
)
from assets.partitions import nightly_partitions
from resources.warehouse import WarehouseResource
from workflows import quality


def _outcome(verdict: quality.Verdict) -> dict:
    """The fields of a check result, for one night or a whole run."""
    metadata: dict = dict(verdict.figures)
    if verdict.problems:
        listed = "\n".join(f"- {p}" for p in verdict.problems[:20])
        if len(verdict.problems) > 20:
            listed += f"\n- … and {len(verdict.problems) - 20} more"
        metadata["problems"] = dg.MetadataValue.md(listed)
    soft = verdict.level == quality.SOFT
    return {
        "passed": verdict.level == quality.PASS,
        "severity": dg.AssetCheckSeverity.WARN if soft else dg.AssetCheckSeverity.ERROR,
        "description": verdict.description,
        "metadata": metadata,
    }


def _record_each_night(context, asset_key: dg.AssetKey, name: str, blocking: bool, verdicts):
    """A run over several nights gets one check result from Dagster, attached to no night; so
    each night's own result is recorded on its partition as well, as a single night's run does."""
    for night, verdict in verdicts.items():
        context.instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=asset_key,
                check_name=name,
                blocking=blocking,
                partition=night.isoformat(),
                **_outcome(verdict),
            )
        )


def _check(asset, name: str, blocking: bool, description: str, judge):
    """An asset check on each nightly partition that applies `judge(night)` to the run's nights."""

    @dg.asset_check(
        asset=asset,
        name=name,
        blocking=blocking,
        partitions_def=nightly_partitions,
        description=description,
    )
    def check(context, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        verdicts = _each_night(context, warehouse, judge)
        if len(verdicts) > 1:
            _record_each_night(context, asset.key, name, blocking, verdicts)
        return dg.AssetCheckResult(**_outcome(quality.combine(list(verdicts.values()))))

    return check


def build_checks(max_failed_lookup_share: float) -> list[dg.AssetChecksDefinition]:
    """The checks, with the failed-lookup threshold from settings."""
    share = max_failed_lookup_share
    specs = [
        (business_profiles, "failed_lookups_under_threshold", True,
         f"Blocks downstream when more than {share:.0%} of the night's look-ups failed "
         "(errors, not businesses that were not found).",
         lambda night: quality.failed_lookups(night, share)),
        (competitor_sets, "competitor_sets_not_empty", False,
         "Warns when a business found tonight has no competitor set, with the reason.",
         quality.competitor_sets),
        (comparison_metrics, "metrics_within_ranges", True,
         "Blocks the reports when a metric is outside its possible range.",
         quality.metric_ranges),
        (reports, "reports_match_schema", False,
         "Warns when a stored report does not validate against the report schema.",
         quality.report_schema),
    ]  # fmt: skip
    # Checks per partition are what we want (a result per night); Dagster marks partitioned
    # checks as preview, which is safe here because the Dagster version is pinned exactly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [_check(*spec) for spec in specs]
