"""Connectivity checks for ``salla-sync check`` and the bot's ``/healthz``."""

from __future__ import annotations

import asyncio

from sync_core.settings import Settings
from sync_core.store import Store
from sync_core.wiring import open_service

Check = tuple[str, bool, str]


async def check_database(store: Store) -> Check:
    try:
        await asyncio.to_thread(store.ping)
        return ("database", True, store.engine.url.render_as_string(hide_password=True))
    except Exception as exc:  # any driver error is a failed check, said in one line
        return ("database", False, f"unreachable ({type(exc).__name__})")


async def check_webhooks(service) -> Check:
    """Whether the store sends the events the automatic sync needs (registered by URL)."""
    from sync_core.webhooks import SUBSCRIBED_EVENTS

    try:
        events = {h.get("event") for h in await service.salla.webhooks()}
    except Exception as exc:
        return ("webhooks", False, f"could not list them: {exc}")
    missing = [e for e in SUBSCRIBED_EVENTS if e not in events]
    if missing:
        return ("webhooks", False, f"not registered: {', '.join(missing)} (salla-sync webhooks subscribe --url …, "
                                   "or the Partner Portal)")
    return ("webhooks", True, "registered: " + ", ".join(SUBSCRIBED_EVENTS))


async def check_all(settings: Settings) -> list[Check]:
    try:
        store = Store(settings.database_url)
    except Exception as exc:  # unreachable, or a schema that needs `salla-sync db upgrade`
        return [("database", False, str(exc) or type(exc).__name__)]
    results = [await check_database(store)]
    if settings.salla_sync_secret_key is None:
        results.append(("tokens", True, "stored in plain text: set SALLA_SYNC_SECRET_KEY (salla-sync db new-key) "
                                        "to encrypt them"))
    else:
        results.append(("tokens", True, "encrypted at rest"))
    try:
        async with open_service(settings, store=store) as service:
            answered = {}
            for name, ping in (("salla", service.salla.ping), ("enerpize", service.enerpize.ping)):
                try:
                    results.append((name, True, await ping()))
                except Exception as exc:
                    results.append((name, False, str(exc) or type(exc).__name__))
                answered[name] = results[-1][1]
            if answered["salla"] and settings.salla_webhook_secret is not None:
                results.append(await check_webhooks(service))
            if answered["enerpize"]:  # which filter spelling each of its lists honours
                try:
                    results.extend(("enerpize", True, line) for line in await service.enerpize.describe_filters())
                except Exception as exc:
                    results.append(("enerpize", False, f"could not probe its list filters: {exc}"))
    except Exception as exc:
        results.append(("settings", False, str(exc)))
    finally:
        store.close()
    return results
