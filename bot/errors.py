"""Failures as sentences a person can act on, and how to get a sentence to them.

The Bolt app has one error handler (``handle_error``); the run worker, which works after the
ack, uses the same ``explain`` and ``tell_user``. Nobody ever sees a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.context import ModalContext
from bot.slack_io import SlackOut, error_code
from sync_core.settings import ConfigError

log = logging.getLogger(__name__)

AGAIN = "Please try again; if it keeps happening, ask the on-call engineer to check the bot's log."

_SLACK_SENTENCES = {
    "expired_trigger_id": "Slack took too long to open the form. Please run /salla-sync again.",
    "exchanged_trigger_id": "That form was already opened once. Please run /salla-sync again.",
    "invalid_trigger_id": "Slack could not open the form. Please run /salla-sync again.",
    "channel_not_found": "I can't post in that conversation. Invite me to it, or run /salla-sync in another channel.",
    "not_in_channel": "I'm not a member of that channel. Invite me to it, or run /salla-sync in another channel.",
    "is_archived": "That channel is archived, so I can't post there.",
    "ratelimited": "Slack is rate-limiting the bot right now. Please try again in a minute.",
    "invalid_auth": "The bot's Slack token is not valid any more. Ask an admin to reinstall the app.",
    "token_revoked": "The bot's Slack token was revoked. Ask an admin to reinstall the app.",
    "missing_scope": "The Slack app is missing a permission it needs. Ask an admin to reinstall it from manifest.yml.",
}


def explain(error: BaseException) -> str:
    """One sentence for the person who clicked; never the exception's text from a library."""
    if isinstance(error, SlackApiError):
        code = error_code(error) or "unknown error"
        return _SLACK_SENTENCES.get(code, f"Slack refused a request from the bot ({code}). {AGAIN}")
    if isinstance(error, SQLAlchemyError):
        return "The bot can't reach its database right now, so nothing was started. Please try again in a minute."
    if isinstance(error, ConfigError):
        return f"The bot is not fully configured ({error}). Ask an admin."
    if isinstance(error, (ClientError, TimeoutError, ConnectionError)):
        return f"The bot could not reach Slack in time. {AGAIN}"
    return f"Something went wrong on the bot's side. {AGAIN}"


async def tell_user(out: SlackOut, text: str, *, user_id: str | None, channel_id: str | None = None,
                    response_url: str | None = None) -> bool:
    """Ephemerally when possible (response_url, then chat.postEphemeral), else in the user's DM."""
    if response_url and await out.respond(response_url, text):
        return True
    if user_id and channel_id:
        try:
            await out.ephemeral(channel_id, user_id, text)
            return True
        except Exception as exc:
            log.info("ephemeral message failed (%s); trying a DM", error_code(exc) or type(exc).__name__)
    if user_id:
        try:
            await out.call("chat_postMessage", channel=await out.dm_channel(user_id), text=text)
            return True
        except Exception as exc:
            log.warning("could not tell %s: %s", user_id, error_code(exc) or type(exc).__name__)
    return False


def _where(body: dict[str, Any], context: Any) -> tuple[str | None, str | None, str | None]:
    user = context.get("user_id") or (body.get("user") or {}).get("id") or body.get("user_id")
    channel = context.get("channel_id")
    response_url = context.get("response_url")
    view = body.get("view") or {}
    modal = ModalContext.load(view.get("private_metadata")) if view.get("type") == "modal" else None
    if modal is not None:
        channel = channel or modal.channel_id
        response_url = response_url or modal.response_url
    return user, channel, response_url


ErrorHandler = Callable[..., Awaitable[None]]


def error_handler(out: SlackOut) -> ErrorHandler:
    """The Bolt app's one error handler (also used for work a listener does after its ack)."""

    async def handle_error(error: Exception, body: dict[str, Any], context: Any, logger: logging.Logger = log) -> None:
        code = error_code(error)
        logger.error("listener failed: %s%s", type(error).__name__, f" ({code})" if code else "",
                     exc_info=not isinstance(error, SlackApiError))
        user, channel, response_url = _where(body or {}, context)
        await tell_user(out, explain(error), user_id=user, channel_id=channel, response_url=response_url)

    return handle_error
