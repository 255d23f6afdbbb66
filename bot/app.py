"""The app factory: one Slack client, the run worker, the listeners, one error handler.

    app = build_app(settings, service)            # production: the client comes from settings
    app = build_app(settings, service, client=c, tuning=FAST)   # tests
    await wait_for_runs(app)                      # every run (and re-run, cancel…) in flight done
    await close_app(app)                          # after the worker's shutdown: the Slack session
"""

from __future__ import annotations

import weakref

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.access import Access
from bot.deps import Deps
from bot.errors import error_handler
from bot.listeners import register_all
from bot.alerts import AlertsReporter
from bot.runs import RunWorker
from bot.slack_io import close_client, make_client
from bot.tuning import Tuning
from sync_core.service import SyncService
from sync_core.settings import Settings
from sync_core.store.tables import RunSource
from sync_core.webhooks import WebhookInbox

_DEPS: weakref.WeakKeyDictionary[AsyncApp, Deps] = weakref.WeakKeyDictionary()


def build_app(settings: Settings, service: SyncService, *, client: AsyncWebClient | None = None,
              tuning: Tuning | None = None) -> AsyncApp:
    """The Bolt app for these settings and this sync service.

    ``client`` defaults to one ``AsyncWebClient`` with ``settings.slack_bot_token``, base URL
    ``settings.slack_api_url`` and retry handlers for 429 (honouring Retry-After), 5xx and
    dropped connections. Every HTTP request is signature-checked with ``slack_signing_secret``
    (Socket Mode requests are not signed and skip the check).
    """
    if tuning is None:  # posting results Slack refused for a while is tried again at most a lease apart
        lease = settings.salla_sync_lease_seconds
        tuning = Tuning(report_retry_initial=min(Tuning.report_retry_initial, lease / 4),
                        report_retry_max=min(Tuning.report_retry_max, lease))
    owns_client = client is None
    if client is None:
        settings.require("slack_bot_token")
        assert settings.slack_bot_token is not None
        client = make_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url, tuning)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    # Every listener acks and hands what is slow to the worker (Deps.after_ack), so Bolt may answer
    # once the listener returns: without this it runs the listener as a task and polls for the
    # ack every 10 ms, which adds up to 10 ms (and a task) to every acknowledgement.
    app = AsyncApp(client=client, signing_secret=secret, name="salla-sync", process_before_response=True)
    worker = RunWorker(service, client, tuning=tuning)
    on_error = error_handler(worker.out)
    webhooks = None
    if settings.salla_webhook_secret is not None and settings.salla_webhook_secret.get_secret_value():
        webhooks = WebhookInbox(service.store, service.engine, store_id=settings.salla_store_id,
                                tokens=service.salla.tokens)
    if settings.salla_sync_alerts_channel:  # automatic syncs' failures go there (else: the log only)
        channel = settings.salla_sync_alerts_channel
        service.engine.register(RunSource.WEBHOOK, lambda _run: AlertsReporter(worker.out, worker.threads, channel))
    deps = Deps(settings=settings, service=service, client=client, worker=worker,
                access=Access.from_settings(settings), tuning=tuning, on_error=on_error, owns_client=owns_client,
                webhooks=webhooks)
    register_all(app, deps)
    app.error(on_error)
    _DEPS[app] = deps
    return app


def deps_of(app: AsyncApp) -> Deps:
    return _DEPS[app]


def worker_of(app: AsyncApp) -> RunWorker:
    return _DEPS[app].worker


async def wait_for_runs(app: AsyncApp, timeout: float | None = None) -> bool:
    """Wait until every run, re-run and button follow-up the app started is done; False on timeout."""
    return await worker_of(app).wait_idle(timeout)


async def close_app(app: AsyncApp) -> None:
    """Close the Slack client's connections (only the client ``build_app`` made itself)."""
    deps = _DEPS.get(app)
    if deps is not None and deps.owns_client:
        await close_client(deps.client)
