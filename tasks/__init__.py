"""One module per pipeline stage: thin Prefect tasks around plain functions."""
