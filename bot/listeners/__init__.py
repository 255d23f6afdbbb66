"""One module per kind of listener; each has ``register(app, deps)`` and stays thin."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from bot.listeners import actions, commands, home, shortcuts, views


def register_all(app: AsyncApp, deps: Deps) -> None:
    for module in (commands, views, actions, home, shortcuts):
        module.register(app, deps)
