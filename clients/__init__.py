"""One client per outside system, built by its block's `get_client()`; each has an in-process
fake for fast tests."""
