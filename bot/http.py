"""The bot's HTTP server, on aiohttp: ``GET /healthz`` and ``GET /metrics`` (Prometheus) in both
modes, and in HTTP mode ``POST /slack/events`` (Bolt, signature-checked)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.app import deps_of
from sync_core.metrics import exposition
from sync_core.webhooks import MAX_BODY_BYTES, WebhookRefused, authentic, read_delivery

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
WEBHOOK_PATH = "/salla/webhooks"


def web_app(app: AsyncApp, *, events: bool = True) -> web.Application:
    """The routes; ``events``: Slack's requests come here (HTTP mode), not over Socket Mode."""
    deps = deps_of(app)
    signed = bool(deps.settings.slack_signing_secret and deps.settings.slack_signing_secret.get_secret_value())

    async def slack_events(request: web.Request) -> web.Response:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not signed or not timestamp.isdigit() or not request.headers.get("X-Slack-Signature"):
            # Bolt would answer these too; a malformed timestamp would make it answer 500, not 401.
            return web.json_response({"error": "invalid request"}, status=401)
        bolt_response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def health(_: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(asyncio.to_thread(deps.service.store.ping), timeout=5)
        except Exception as exc:
            log.warning("health check: database unreachable (%s)", type(exc).__name__)
            return web.json_response({"ok": False, "database": "unreachable"}, status=503)
        return web.json_response({"ok": True, "runs_in_flight": len(deps.worker.running)})

    async def salla_webhook(request: web.Request) -> web.Response:
        """Authenticated, stored once, answered at once; synced afterwards (sync_core/webhooks.py)."""
        inbox, secret = deps.webhooks, deps.settings.salla_webhook_secret
        if inbox is None or secret is None:
            return web.json_response({"error": "not found"}, status=404)
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return web.json_response({"error": "the body is too large"}, status=413)
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            return web.json_response({"error": "the body is too large"}, status=413)
        if not authentic(request.headers, raw, secret.get_secret_value()):
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            delivery = read_delivery(raw)
        except WebhookRefused as refused:
            return web.json_response({"error": str(refused)}, status=refused.status)
        stored = await inbox.receive(delivery)
        return web.json_response({"ok": True, "stored": stored})

    async def prometheus(_: web.Request) -> web.Response:
        body, content_type = exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    web_application = web.Application()
    web_application.router.add_get(METRICS_PATH, prometheus)
    web_application.router.add_post(WEBHOOK_PATH, salla_webhook)
    if events:
        web_application.router.add_post(EVENTS_PATH, slack_events)
    web_application.router.add_get(HEALTH_PATH, health)
    return web_application


async def start_http(app: AsyncApp, host: str = "127.0.0.1", port: int = 0, *,
                     events: bool = True) -> tuple[web.AppRunner, int]:
    """Serve the app on ``host:port`` in the running loop (port 0 = any free port); ``events=False``
    in Socket Mode (``/healthz`` only).

    Returns the runner (``await runner.cleanup()`` stops it) and the port actually bound.
    """
    runner = web.AppRunner(web_app(app, events=events), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    log.info("listening on http://%s:%s%s", host, bound, EVENTS_PATH if events else HEALTH_PATH)
    return runner, bound
