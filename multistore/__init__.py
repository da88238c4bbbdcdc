"""multistore's Prefect-free core: registry, windows, job graphs, compliance rules, reports, CLI."""
