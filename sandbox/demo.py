"""``salla-sync demo``: the whole sync against local simulators, no credentials needed.

It starts the Salla and Enerpize simulators on loopback with the sample store, syncs a handful
of numbers that show every status (an invoice + return order, a guest, a number typed as an
internal id, one with no invoice yet, one whose totals do not add up, one that does not exist),
re-runs the failed ones, syncs again to show nothing is created twice, and prints the log.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import click

from sandbox.enerpize_sim import EnerpizeSimulator
from sandbox.salla_sim import SallaSimulator
from sandbox.sample_store import sample_store
from sync_core.input_rules import parse_order_numbers
from sync_core.settings import Settings, load_settings
from sync_core.wiring import open_service

DEMO_NUMBERS = ["1001", "1002", "1004", "418149281", "1011", "1016", "1017", "1007"]


def demo_settings(salla: SallaSimulator, enerpize: EnerpizeSimulator, database_url: str) -> Settings:
    return load_settings(
        _env_file=None,
        salla_api_url=salla.api_url, salla_token_url=salla.token_url,
        salla_access_token=salla.access_token, salla_refresh_token=salla.refresh_token,
        salla_client_id=salla.client_id, salla_client_secret=salla.client_secret,
        enerpize_api_url=enerpize.api_url, enerpize_api_key=enerpize.api_key,
        database_url=database_url, salla_sync_http_timeout=5,
    )


async def _demo(numbers: list[str], settings: Settings, salla: SallaSimulator, enerpize: EnerpizeSimulator) -> int:
    from sync_core.cli import exit_code, format_results, summary

    async with open_service(settings) as service:
        # Salla is down for one invoice read (every retry of it), so the re-run has something to fix.
        salla.fail_next(status=503, count=5, path_contains="/orders/invoices/560009")
        click.secho(f"$ salla-sync sync {' '.join(numbers)}", bold=True)
        run_id, results = await service.sync(numbers, requested_by="demo", source="demo")
        click.echo(format_results(results))
        click.echo(f"run {run_id}: {summary(results)}\n")

        click.secho(f"$ salla-sync retry {run_id}    # re-run the failed orders", bold=True)
        retried = await service.retry(run_id, requested_by="demo", source="demo")
        if retried:
            retry_id, retry_results = retried
            click.echo(format_results(retry_results))
            click.echo(f"run {retry_id} (re-run of {run_id}): {summary(retry_results)}\n")

        created = sum(len(d) for d in enerpize.documents.values())
        click.secho(f"$ salla-sync sync {numbers[0]} {numbers[1]}    # again: nothing is created twice", bold=True)
        again_id, again = await service.sync(numbers[:2], requested_by="demo", source="demo")
        click.echo(format_results(again))
        click.echo(f"run {again_id}: {summary(again)}; Enerpize documents before {created}, "
                   f"after {sum(len(d) for d in enerpize.documents.values())}\n")

        click.secho("$ salla-sync log --limit 12", bold=True)
        for r in service.store.log(limit=12):
            amount = f"{r.amount} {r.currency}" if r.amount else ""
            click.echo(f"run {r.run_id:<2} {r.number:<10} {r.kind or '-':<7} {r.status:<16} "
                       f"{r.enerpize_number or '':<8} {amount:>11}  {r.reason or ''}".rstrip())
        click.echo(f"\nSalla calls: {salla.call_count()} (token refreshes {salla.refresh_count}); "
                   f"Enerpize calls: {enerpize.call_count()}; "
                   f"documents created: {created}")
        return exit_code(results)


def run_demo(numbers_text: str | None = None) -> int:
    """Run the demo; returns the CLI exit code of the first run (1: some orders did not sync)."""
    numbers = DEMO_NUMBERS
    if numbers_text:
        parsed = parse_order_numbers(numbers_text.replace(" ", "\n"))
        if not parsed.ok:
            click.echo("error: " + "\n".join(parsed.errors), err=True)
            return 2
        numbers = parsed.numbers
    with tempfile.TemporaryDirectory(prefix="salla-sync-demo-") as tmp, \
            SallaSimulator(store=sample_store(), latency=0.02) as salla, \
            EnerpizeSimulator(latency=0.02) as enerpize:
        database_url = f"sqlite:///{Path(tmp) / 'salla_sync.db'}"
        click.echo(f"Salla simulator    {salla.api_url}\nEnerpize simulator {enerpize.api_url}\n"
                   f"database           {database_url} (SQLite, thrown away at the end)\n")
        asyncio.run(_demo(numbers, demo_settings(salla, enerpize, database_url), salla, enerpize))
    return 0
