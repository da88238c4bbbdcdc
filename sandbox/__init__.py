"""The simulated outside world: a local HTTP service speaking the vendors' APIs (see README.md)."""
