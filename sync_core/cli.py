"""``salla-sync``: the terminal front end of the sync core (on-call use, scripts, deployers' CI).

Exit codes: 0 every order synced, 1 some order not synced, 2 bad input or configuration.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence

import click

from sync_core.db_cli import db
from sync_core.input_rules import MAX_NUMBERS, parse_order_numbers
from sync_core.logs import setup_logging
from sync_core.results import OrderResult, SyncStatus
from sync_core.service import SyncService
from sync_core.settings import ConfigError, Settings, load_settings
from sync_core.store import SchemaError
from sync_core.store.tables import RunSource
from sync_core.terminal import TerminalReporter, format_audit, print_run
from sync_core.wiring import open_service

EXIT_OK, EXIT_NOT_SYNCED, EXIT_BAD_INPUT = 0, 1, 2


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(str(exc))
    setup_logging(settings.secrets, fmt=settings.salla_sync_log_format)
    return settings


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def exit_code(results: Sequence[OrderResult]) -> int:
    return EXIT_OK if all(r.status is SyncStatus.SUCCESS for r in results) else EXIT_NOT_SYNCED


async def finish_left_runs(service: SyncService) -> list[int]:
    """Runs an earlier ``salla-sync`` left unfinished (it was killed) whose lease ran out: finished
    here before this command's own work, each number once, their results on stderr."""
    engine = service.engine
    engine.resumes = frozenset({RunSource.CLI})
    engine.register(RunSource.CLI, lambda _run: TerminalReporter(left_by_earlier=True))
    resumed = await engine.resume()
    await engine.tasks.wait_idle()
    return resumed


async def run_here(service: SyncService, run: tuple[int, list[OrderResult]] | None,
                   ) -> tuple[int, list[OrderResult]] | None:
    """Say so when this command's run did not finish here (another process took it over)."""
    if run is None:
        return None
    run_id, results = run
    row = await asyncio.to_thread(service.store.get_run, run_id)
    if row is None or row.reported_at is None:
        click.echo(f"run {run_id} did not finish here; a running bot or the next salla-sync finishes it "
                   f"(salla-sync log --run {run_id})", err=True)
    return run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Sync Salla orders into Enerpize as invoices and returns, exactly once."""


@main.command()
@click.argument("numbers", nargs=-1)
@click.option("--file", "file", type=click.File("r", encoding="utf-8"), help="Read numbers from a file, one a line.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--by", "requested_by", default=None, help="Who asked (default: $USER).")
def sync(numbers: tuple[str, ...], file, as_json: bool, requested_by: str | None) -> None:
    """Sync orders by reference number or internal id."""
    text = "\n".join(numbers)
    if file is not None:
        text += "\n" + file.read()
    parsed = parse_order_numbers(text)
    if not parsed.ok:
        _fail("\n".join(parsed.errors))
    settings = _settings()
    who = requested_by or _user()

    async def go() -> tuple[int, list[OrderResult]] | None:
        async with open_service(settings) as service:
            await finish_left_runs(service)
            return await run_here(service, await service.sync(parsed.numbers, requested_by=who, source=RunSource.CLI,
                                                              reporter=TerminalReporter(as_json=as_json)))

    run = _run(go())
    assert run is not None
    sys.exit(exit_code(run[1]))


@main.command()
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def retry(run_id: int, as_json: bool) -> None:
    """Re-run the orders that failed in RUN_ID, as a new run linked to it."""
    settings = _settings()

    async def go():
        async with open_service(settings) as service:
            if await asyncio.to_thread(service.store.get_run, run_id) is None:
                return None, None
            await finish_left_runs(service)  # RUN_ID among them, maybe: its numbers get their status first
            again = await service.retry(run_id, requested_by=_user(), source=RunSource.CLI,
                                        reporter=TerminalReporter(as_json=as_json))
            return await run_here(service, again) or (None, [])

    new_run, results = _run(go())
    if results is None:
        _fail(f"there is no run {run_id}")
    if new_run is None:
        click.echo(f"run {run_id} has no failed orders; nothing to re-run")
        sys.exit(EXIT_OK)
    sys.exit(exit_code(results))


@main.command()
@click.option("--from", "first", required=True, metavar="YYYY-MM-DD", help="First day (Asia/Riyadh).")
@click.option("--to", "last", default=None, metavar="YYYY-MM-DD", help="Last day, included (default: --from).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--sync", "then_sync", is_flag=True, help="Then sync the missing orders (runs of at most 100).")
def audit(first: str, last: str | None, as_json: bool, then_sync: bool) -> None:
    """The Salla invoices of a range of days that are not in Enerpize (and, with --sync, sync them)."""
    from sync_core.audit import AuditRange, AuditRangeError
    from sync_core.enerpize.lookups import CannotConfirm
    from sync_core.http import Unreachable
    from sync_core.salla.client import SallaError
    from sync_core.salla.tokens import SallaAuthError

    try:
        days = AuditRange.parse(first, last)
    except AuditRangeError as exc:
        _fail(str(exc))
    settings = _settings()

    async def go():
        async with open_service(settings) as service:
            try:
                report = await service.audit.run(days)
            except (SallaError, SallaAuthError, Unreachable, CannotConfirm) as exc:
                return None, str(exc), []
            runs = []
            if then_sync and report.missing:
                numbers = report.numbers_to_sync()
                for start in range(0, len(numbers), MAX_NUMBERS):
                    runs.append(await service.sync(numbers[start:start + MAX_NUMBERS], requested_by=_user(),
                                                   source=RunSource.AUDIT))
            return report, None, runs

    report, problem, runs = _run(go())
    if report is None:
        click.echo(f"error: the audit could not finish: {problem}", err=True)
        sys.exit(EXIT_NOT_SYNCED)
    if as_json:
        out = report.to_json()
        if then_sync:
            out["runs"] = [{"run_id": run_id, "results": [r.to_json() for r in results]} for run_id, results in runs]
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        click.echo(format_audit(report))
        for run_id, results in runs:
            click.echo()
            print_run(run_id, results, False)
    synced = [r for _, results in runs for r in results]
    if not report.missing or (then_sync and synced and exit_code(synced) == EXIT_OK):
        sys.exit(EXIT_OK)
    sys.exit(EXIT_NOT_SYNCED)


@main.group()
def webhooks() -> None:
    """Salla's webhooks for this store (for merchants not using the Partner Portal)."""


@webhooks.command()
@click.option("--url", required=True, help="The public https address of the bot's /salla/webhooks.")
def subscribe(url: str) -> None:
    """Register invoice.created and order.status.updated for URL, signed with SALLA_WEBHOOK_SECRET."""
    from sync_core.webhooks import subscribe as register

    settings = _settings()
    if settings.salla_webhook_secret is None or not settings.salla_webhook_secret.get_secret_value():
        _fail("SALLA_WEBHOOK_SECRET is not set: set the secret the bot checks deliveries with first")
    if not url.startswith("https://") or "localhost" in url:
        _fail("--url must be the bot's public https address (Salla refuses localhost)")
    secret = settings.salla_webhook_secret.get_secret_value()

    async def go() -> list[str]:
        async with open_service(settings) as service:
            return await register(service.salla, url, secret)

    try:
        lines = _run(go())
    except Exception as exc:  # Salla refused (scope webhooks.read_write missing, a bad url...)
        _fail(f"Salla did not register the webhooks: {exc}")
    for line in lines or []:
        click.echo(line)


@main.command(name="log")
@click.option("--status", type=click.Choice([s.value for s in SyncStatus], case_sensitive=False))
@click.option("--limit", type=click.IntRange(1, 1000), default=30, show_default=True)
@click.option("--run", "run_id", type=click.IntRange(min=1), default=None,
              help="One run's results (the shape of sync's output, --json too).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True,
              help="Every row of the days asked for (or of --run) as CSV, UTF-8 with BOM, for a spreadsheet.")
@click.option("--from", "first", default=None, metavar="YYYY-MM-DD", help="With --csv: the first day (Asia/Riyadh).")
@click.option("--to", "last", default=None, metavar="YYYY-MM-DD", help="With --csv: the last day, included.")
def show_log(status: str | None, limit: int, run_id: int | None, as_json: bool, as_csv: bool,
             first: str | None, last: str | None) -> None:
    """The Invoice Sync Log, newest first."""
    from sync_core.store import Store

    settings = _settings()
    if status:
        status = next(s.value for s in SyncStatus if s.value.lower() == status.lower())
    try:
        store = Store(settings.database_url)
    except SchemaError as exc:
        _fail(str(exc))
    if as_csv:
        _csv(store, status=status, run_id=run_id, first=first, last=last)
        return
    if run_id is not None:
        _show_run(store, run_id, as_json)
        return
    rows = store.log(status=status, limit=limit)
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False))
        return
    if not rows:
        click.echo("the log is empty")
        return
    click.echo(f"{'time (UTC)':<16}  {'run':>4}  {'number':<12} {'type':<7} {'status':<16} {'enerpize':<10} "
               f"{'amount':>10}  reason")
    for r in rows:
        amount = f"{r.amount} {r.currency}" if r.amount else ""
        click.echo(f"{r.created_at:%Y-%m-%d %H:%M}  {r.run_id:>4}  {r.number:<12} {r.kind or '':<7} {r.status:<16} "
                   f"{r.enerpize_number or '':<10} {amount:>10}  {r.reason or ''}".rstrip())


def _csv(store, *, status: str | None, run_id: int | None, first: str | None, last: str | None) -> None:
    """The rows as CSV on stdout: of a run, or of a range of days (all of the log without one)."""
    from datetime import datetime, time, timedelta

    from sync_core.audit import RIYADH, AuditRangeError, parse_day
    from sync_core.csv_export import records_csv

    if run_id is not None:
        if store.get_run(run_id) is None:
            _fail(f"there is no run {run_id}")
        rows = [r for r in store.run_records(run_id) if not status or r.status == status]
    else:
        since = until = None
        if first or last:
            try:
                start = parse_day(first, "--from") if first else None
                end = parse_day(last, "--to") if last else None
            except AuditRangeError as exc:
                _fail(str(exc))
            if start and end and end < start:
                _fail(f"the range ends ({end.isoformat()}) before it starts ({start.isoformat()})")
            since = datetime.combine(start, time(), RIYADH) if start else None
            until = datetime.combine(end + timedelta(days=1), time(), RIYADH) if end else None
        rows = list(reversed(store.log(status=status, limit=None, since=since, until=until)))
    sys.stdout.buffer.write(records_csv(rows, store.runs_of(rows)))
    sys.stdout.buffer.flush()


def _show_run(store, run_id: int, as_json: bool) -> None:
    run = store.get_run(run_id)
    if run is None:
        _fail(f"there is no run {run_id}")
    results = store.run_results(run_id)
    print_run(run_id, results, as_json)
    if run.reported_at is None:
        left = len(run.number_list) - len(results)
        click.echo(f"run {run_id} is not finished yet ({left} of {run.total} number(s) without a result); a running "
                   "bot or the next salla-sync finishes it", err=True)


@main.command()
def check() -> None:
    """Check connectivity to Salla, Enerpize and the database."""
    from sync_core.health import check_all

    settings = _settings()
    checks = _run(check_all(settings))
    for name, ok, detail in checks:
        click.echo(f"{'ok  ' if ok else 'FAIL'}  {name:<9} {detail}")
    sys.exit(EXIT_OK if all(ok for _, ok, _ in checks) else EXIT_NOT_SYNCED)


@main.command()
@click.option("--numbers", default=None, help="Numbers to sync instead of the sample ones (one a line or spaced).")
def demo(numbers: str | None) -> None:
    """Run everything against local simulators of Salla and Enerpize (no credentials needed)."""
    from sandbox.demo import run_demo

    sys.exit(run_demo(numbers))


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user in some containers
        return "cli"


def _run(coro):
    try:
        return asyncio.run(coro)
    except (ConfigError, SchemaError) as exc:
        _fail(str(exc))


main.add_command(db)

if __name__ == "__main__":  # pragma: no cover
    main()
