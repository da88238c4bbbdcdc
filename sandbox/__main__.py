"""`python -m sandbox`: the same as `multistore sandbox`."""

from sandbox.cli import main

main()
