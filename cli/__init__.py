"""The `multistore` command, composed from each part's verbs (cli/app.py)."""
