"""The Dagster-free core of competitor-insights: records, parsing, matching, scoring, metrics
and report content. Pure functions over data; nothing here performs I/O."""
