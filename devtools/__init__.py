"""Tools for running multistore on one machine: the demo, the local processes it starts (a Prefect
server, workers, the sandbox) and throwaway PostgreSQL databases. The demo, the benchmarks and
the tests use them; a deployment does not."""
