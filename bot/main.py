"""``salla-sync-bot``: Socket Mode (``SLACK_APP_TOKEN`` set, no ``--http``) or HTTP mode.

    salla-sync-bot                       # Socket Mode: no public URL needed; /healthz, /metrics and
                                         # /salla/webhooks on --webhook-port (default --port)
    salla-sync-bot --http --port 3000    # POST /slack/events, GET /healthz

A missing or malformed setting stops start-up with one line naming the variable (exit 2).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Sequence

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.app import build_app, close_app, deps_of, worker_of
from bot.audits import keep_resuming_audits
from bot.daily_audit import DailyAudit
from bot.http import start_http
from bot.slack_io import error_code, slack_unavailable
from sync_core.logs import setup_logging
from sync_core.settings import ConfigError, Settings, load_settings
from sync_core.store import SchemaError
from sync_core.wiring import open_service

log = logging.getLogger("bot")

EXIT_CONFIG = 2


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="salla-sync-bot", description="The Salla Sync Slack bot.")
    parser.add_argument("--http", action="store_true", help="serve HTTP (POST /slack/events, GET /healthz) "
                                                            "instead of Socket Mode")
    parser.add_argument("--port", type=int, default=3000,
                        help="HTTP port (default 3000): Slack's requests in HTTP mode, GET /healthz in both")
    parser.add_argument("--host", default="0.0.0.0", help="HTTP address to bind (default 0.0.0.0)")
    parser.add_argument("--webhook-port", type=int, default=None,
                        help="Socket Mode: the port of /salla/webhooks, /healthz and /metrics (default: --port)")
    return parser.parse_args(argv)


def check_settings(settings: Settings, http: bool) -> None:
    settings.require("slack_bot_token")
    if http:
        settings.require("slack_signing_secret")
    elif settings.slack_app_token is None or not settings.slack_app_token.get_secret_value():
        raise ConfigError("SLACK_APP_TOKEN is not set (it is needed for Socket Mode; or run with --http --port PORT)")


async def start_socket_mode(app: AsyncApp, app_token: str) -> AsyncSocketModeHandler:
    """Connect the app to Slack over Socket Mode (no public URL); ``await handler.close_async()`` stops it."""
    handler = AsyncSocketModeHandler(app, app_token)
    await handler.connect_async()
    return handler


async def serve(settings: Settings, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not on this platform
            pass
    async with open_service(settings) as service:
        app = build_app(settings, service)
        worker = worker_of(app)
        try:
            await app.client.auth_test()
        except Exception as exc:
            if isinstance(exc, SlackApiError) and not slack_unavailable(exc):
                raise ConfigError(f"SLACK_BOT_TOKEN was refused by Slack ({error_code(exc)})") from None
            # Slack down or unreachable right now: start anyway (runs sync; results wait for Slack).
            log.warning("could not reach Slack to check the token (%s)", error_code(exc) or type(exc).__name__)
        # Runs left unfinished (a crash, a deploy, a replica that died) are taken over now and
        # whenever their driver is gone later on.
        worker.start_resuming()
        audits = asyncio.get_running_loop().create_task(keep_resuming_audits(worker), name="salla-sync-audits")
        inbox = deps_of(app).webhooks
        drainer = asyncio.get_running_loop().create_task(inbox.keep_draining(), name="salla-sync-webhooks") \
            if inbox is not None else None
        daily = None
        if settings.salla_sync_audit_channel:
            daily = DailyAudit(worker, settings.salla_sync_audit_channel, settings.salla_sync_audit_at)
            daily.start()
        # What is loaded by now (Bolt, SQLAlchemy, pydantic…) lives as long as the process: keep it
        # out of the collector's full passes, which otherwise pause the loop for tens of ms each.
        gc.collect()
        gc.freeze()
        handler = None
        if args.http:
            runner, port = await start_http(app, args.host, args.port)
            log.info("salla-sync-bot: HTTP mode on %s:%s", args.host, port)
        else:
            assert settings.slack_app_token is not None
            runner, port = await start_http(app, args.host, args.webhook_port or args.port, events=False)
            handler = await start_socket_mode(app, settings.slack_app_token.get_secret_value())
            log.info("salla-sync-bot: Socket Mode connected; GET /healthz on %s:%s", args.host, port)
        try:
            await stop.wait()
        finally:
            if handler is not None:
                await handler.close_async()
            await runner.cleanup()
            audits.cancel()
            if drainer is not None:
                drainer.cancel()
            if daily is not None:
                await daily.stop()
            await worker.shutdown()
            await close_app(app)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        settings = load_settings()
        check_settings(settings, args.http)
    except ConfigError as exc:
        print(f"salla-sync-bot: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    setup_logging(settings.secrets, fmt=settings.salla_sync_log_format)
    try:
        asyncio.run(serve(settings, args))
    except (ConfigError, SchemaError) as exc:
        print(f"salla-sync-bot: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":  # pragma: no cover
    main()
