"""Fixtures: a running bot over HTTP on 127.0.0.1, with the Slack, Salla and Enerpize simulators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.app import build_app, close_app, wait_for_runs
from bot.http import start_http
from bot.tuning import Tuning
from e2e_slack import TEST_TUNING, Bot, BotFactory, make_settings
from sandbox import EnerpizeSimulator, SallaSimulator, sample_store
from sandbox.slack_sim import SlackSimulator
from sync_core.wiring import open_service


@pytest.fixture
def slack() -> SlackSimulator:
    with SlackSimulator() as sim:
        yield sim


@pytest.fixture
def salla_store():
    return sample_store()


@pytest.fixture
def salla(salla_store) -> SallaSimulator:
    with SallaSimulator(store=salla_store) as sim:
        yield sim


@pytest.fixture
def enerpize() -> EnerpizeSimulator:
    with EnerpizeSimulator() as sim:
        yield sim


@pytest.fixture
async def make_bot(database_url, slack, salla, enerpize) -> AsyncIterator[BotFactory]:
    """``await make_bot(tuning=..., **settings)``: a running bot (one per test)."""
    stack: list[Any] = []

    async def make(*, tuning: Tuning = TEST_TUNING, **extra: Any) -> Bot:
        settings = make_settings(slack, salla, enerpize, database_url, **extra)
        context = open_service(settings)
        service = await context.__aenter__()
        service.lost_answer_pause = 0.01
        stack.append(context)
        app = build_app(settings, service, tuning=tuning)
        stack.append(app)
        runner, port = await start_http(app, "127.0.0.1", 0)
        stack.append(runner)
        http = aiohttp.ClientSession()
        stack.append(http)
        return Bot(app, f"http://127.0.0.1:{port}", slack, salla, enerpize, service, settings, http)

    yield make
    for item in reversed(stack):
        if isinstance(item, aiohttp.ClientSession):
            await item.close()
        elif isinstance(item, web.AppRunner):
            await item.cleanup()
        elif isinstance(item, AsyncApp):
            await close_app(item)
        else:
            await item.__aexit__(None, None, None)


@pytest.fixture
async def bot(make_bot) -> Bot:
    b = await make_bot()
    yield b
    await wait_for_runs(b.app, timeout=30)
