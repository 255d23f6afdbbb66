"""Driving the bot as Slack does: signed requests POSTed to its request URL, and what a person does.

A driver sends a ``SlackRequest`` (built by the Slack simulator, see ``sandbox.slack_requests``)
to the bot's ``/slack/events``, signed with the app's signing secret as Slack signs it, and gives
back the bot's answer: ``(HTTP status, body text)``. On top of that, the steps every caller takes:

    driver = SlackDriver(slack, bot_url, signing_secret, http)  # http: an aiohttp.ClientSession
    view = await driver.open_view(user="U0ALICE", channel="C0SALES")  # /salla-sync -> views.open
    status, body = await driver.submit(view, ["1001", "1002"], user="U0ALICE")  # an empty 200 ack: stored

``SlackDriver`` is for callers on an event loop (aiohttp); ``BlockingSlackDriver`` (urllib) for
plain threads, such as the fault tests that run the bot as a process. ``open_view`` takes the view
from the simulator's ``opened_views``, the first one recorded after the command: two commands
opening views at the same time through one simulator must be serialised by the caller.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from sandbox.slack_requests import AppRequests, SlackRequest

EVENTS_PATH = "/slack/events"  # the app's request URL: slash commands, interactivity and events
OPEN_VIEW_TIMEOUT = 30.0  # seconds for the bot's views.open to reach the simulator

Answer = tuple[int, str]  # the bot's HTTP status and body text


@dataclass
class _Driver:
    slack: AppRequests  # builds the requests (fresh trigger ids) and records the views the bot opens
    bot_url: str  # http://host:port of the bot's HTTP server
    secret: str  # the app's signing secret

    @property
    def events_url(self) -> str:
        return self.bot_url.rstrip("/") + EVENTS_PATH

    def _headers(self, request: SlackRequest, secret: str | None, timestamp: int | str | None,
                 headers: dict[str, str] | None) -> dict[str, str]:
        """Slack's signature with ``secret`` (default: the app's) at ``timestamp`` (default: now),
        or exactly ``headers`` (a request signed wrongly or not at all)."""
        if headers is not None:
            return headers
        return request.headers(self.secret if secret is None else secret, timestamp)

    def _command(self, text: str, user: str, channel: str) -> SlackRequest:
        return self.slack.command(text, user_id=user, channel_id=channel)

    def _submission(self, view: dict[str, Any], numbers: str | Iterable[str], user: str) -> SlackRequest:
        text = numbers if isinstance(numbers, str) else "\n".join(numbers)
        return self.slack.submission(view, text, user_id=user)

    def _opened_after(self, before: int) -> dict[str, Any] | None:
        views = self.slack.opened_views
        return views[before] if len(views) > before else None


def _require_empty_ack(answer: Answer) -> None:
    status, body = answer
    if status != 200 or body:
        raise RuntimeError(f"/salla-sync was answered HTTP {status}: {body[:300]!r} (Slack expects an empty 200)")


@dataclass
class SlackDriver(_Driver):
    """Slack in front of the bot, on an event loop, sending over the caller's session."""

    http: aiohttp.ClientSession

    async def post(self, request: SlackRequest, *, secret: str | None = None, timestamp: int | str | None = None,
                   headers: dict[str, str] | None = None) -> Answer:
        """``request`` POSTed to the request URL, signed as Slack signs it; the bot's answer."""
        sent = self._headers(request, secret, timestamp, headers)
        async with self.http.post(self.events_url, data=request.body, headers=sent) as response:
            return response.status, await response.text()

    async def command(self, text: str = "", *, user: str, channel: str) -> Answer:
        """``user`` types ``/salla-sync text`` in ``channel``."""
        return await self.post(self._command(text, user, channel))

    async def open_view(self, text: str = "", *, user: str, channel: str,
                        timeout: float = OPEN_VIEW_TIMEOUT) -> dict[str, Any]:
        """Type the command (its ack must be an empty 200); the view the bot opened for it."""
        before = len(self.slack.opened_views)
        _require_empty_ack(await self.command(text, user=user, channel=channel))
        return await self.slack.until(lambda: self._opened_after(before), timeout)

    async def submit(self, view: dict[str, Any], numbers: str | Iterable[str], *, user: str) -> Answer:
        """Type ``numbers`` (the text as typed, or one number a line) into ``view`` and press Submit."""
        return await self.post(self._submission(view, numbers, user))


@dataclass
class BlockingSlackDriver(_Driver):
    """Slack in front of the bot, from plain threads (urllib); safe to share between threads."""

    http_timeout: float = 30.0

    def post(self, request: SlackRequest, *, secret: str | None = None, timestamp: int | str | None = None,
             headers: dict[str, str] | None = None) -> Answer:
        """``request`` POSTed to the request URL, signed as Slack signs it; the bot's answer."""
        http = urllib.request.Request(self.events_url, data=request.body, method="POST",
                                      headers=self._headers(request, secret, timestamp, headers))
        try:
            with urllib.request.urlopen(http, timeout=self.http_timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as refused:  # a 4xx or 5xx is an answer too
            return refused.code, refused.read().decode()

    def command(self, text: str = "", *, user: str, channel: str) -> Answer:
        """``user`` types ``/salla-sync text`` in ``channel``."""
        return self.post(self._command(text, user, channel))

    def open_view(self, text: str = "", *, user: str, channel: str,
                  timeout: float = OPEN_VIEW_TIMEOUT) -> dict[str, Any]:
        """Type the command (its ack must be an empty 200); the view the bot opened for it."""
        before = len(self.slack.opened_views)
        _require_empty_ack(self.command(text, user=user, channel=channel))
        deadline = time.monotonic() + timeout
        while (view := self._opened_after(before)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no views.open within {timeout:.0f} s of /salla-sync")
            time.sleep(0.01)
        return view

    def submit(self, view: dict[str, Any], numbers: str | Iterable[str], *, user: str) -> Answer:
        """Type ``numbers`` (the text as typed, or one number a line) into ``view`` and press Submit."""
        return self.post(self._submission(view, numbers, user))
