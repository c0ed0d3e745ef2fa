"""The stages of a night, free of Dagster: read from the warehouse, call the services through
their clients, run the core's logic, write back. Assets and the command line both call these."""
