"""What the listeners need, built once by the app factory and handed to each ``register``."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.access import Access
from bot.errors import ErrorHandler
from bot.runs import RunWorker
from bot.tuning import Tuning
from sync_core.service import SyncService
from sync_core.settings import Settings
from sync_core.webhooks import WebhookInbox


@dataclass(frozen=True)
class Deps:
    settings: Settings
    service: SyncService
    client: AsyncWebClient
    worker: RunWorker
    access: Access
    tuning: Tuning
    on_error: ErrorHandler
    owns_client: bool = False  # made by build_app: close_app closes its session
    webhooks: WebhookInbox | None = None  # Salla's webhooks, when SALLA_WEBHOOK_SECRET is set

    def after_ack(self, work: Coroutine[Any, Any, Any], *, body: dict[str, Any], context: Any,
                  name: str | None = None) -> None:
        """Run a listener's work that follows its ack as a worker task (``wait_for_runs`` sees it).

        A failure there reaches the user through the app's one error handler, as a sentence.
        (Raising after the ack inside a Bolt listener can race Bolt's own ack bookkeeping.)
        """

        async def guarded() -> None:
            try:
                await work
            except Exception as exc:
                await self.on_error(exc, body, context, logging.getLogger("slack_bolt.AsyncApp"))

        self.worker.spawn(guarded(), name=name)
