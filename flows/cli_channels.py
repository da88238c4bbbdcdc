"""`multistore sync STORE [--channel NAME]`: the channel-sync flow, here (composed in
cli/app.py). Prefect is imported inside the command, so the rest of the CLI stays fast."""

from __future__ import annotations

from typing import Annotated

import typer

from multistore.cli_output import emit_json, fail, table


def register(app: typer.Typer) -> None:
    @app.command("sync")
    def sync_command(
        store_id: Annotated[str, typer.Argument(metavar="STORE", help="The store's id.")],
        channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    ) -> None:
        """Sync a store's sales channels now: allocate, write what differs, settle conflicts."""
        from flows.channel_sync import channel_sync

        try:
            result = channel_sync(store_id, channel)
        except Exception as exc:
            fail(f"sync {store_id}: {exc}")
        if as_json:
            emit_json(result)
            return
        for key, summary in result.items():
            rows = summary["channels"]
            columns = list(rows[0]) if rows else ["channel"]
            table(
                f"{key}: {summary['resolved']} resolved, {summary['queued']} queued",
                columns,
                [list(r.values()) for r in rows],
            )
