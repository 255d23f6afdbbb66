"""A Slack Web API simulator over real HTTP, plus what Slack itself sends to an app (signed requests).

    with SlackSimulator() as slack:
        slack.api_url       # http://127.0.0.1:PORT/api/  -> SLACK_API_URL
        slack.token         # the bot token it accepts    -> SLACK_BOT_TOKEN
        request = slack.command("1001 1002", user_id="U1", channel_id="C1")   # a /salla-sync
        headers = request.headers(signing_secret)        # signed exactly as Slack signs
        ...
        slack.thread("C1", parent_ts)                    # the parent and its replies, as text

``SlackSimulator`` is assembled here from its parts, one module each:

- ``sandbox.slack_requests``: what Slack sends to the app: ``sign``, ``SlackRequest`` and the
  slash-command / view_submission / block_actions / event_callback builders (``AppRequests``:
  ``command``, ``submission``, ``click``, ``home_action``, ``home_opened``).
- ``sandbox.slack_blocks``: Block Kit limits (``check_blocks``, ``check_view``,
  ``block_text_length``) and ``render``, the text a person reads.
- ``sandbox.slack_workspace``: what the workspace holds (``ApiCall``, ``Message``, ``Ephemeral``),
  the trigger_ids and response_urls it hands out, and how a test reads it (``calls``,
  ``messages``, ``thread``, ``ephemerals``, ``home``, ``until``…).
- ``sandbox.slack_web_api``: the Web API it serves (auth.test, views.open, views.update,
  views.publish, chat.postMessage, chat.update, chat.postEphemeral, conversations.join,
  conversations.open, the ``response_url`` endpoints), what it refuses, and the scripted faults:
  ``rate_limit_next`` (429 + Retry-After), ``not_in_channel``, ``channel_not_found``,
  ``private_channel``, ``expire_trigger``, ``fail_next``.
- ``sandbox.slack_files``: files_upload_v2's three steps (files.getUploadURLExternal, the upload,
  files.completeUploadExternal) and ``uploaded_files``, what was shared where.
- ``sandbox.slack_socket_mode``: apps.connections.open (with the app-level token) and the WebSocket
  on which ``socket_send`` delivers envelopes and ``socket_acks`` collects the app's acks.

Every name those modules offer importers is importable from here too.
"""

from __future__ import annotations

import itertools
import threading

from aiohttp import web

from sandbox.server import LoopbackServer, LoopbackService
from sandbox.slack_blocks import (
    MESSAGE_MAX_BLOCK_TEXT,
    MESSAGE_MAX_BLOCKS,
    VIEW_MAX_BLOCKS,
    block_text_length,
    check_blocks,
    render,
)
from sandbox.slack_requests import (
    FORM,
    JSON,
    LEGACY_TOKEN,
    AppRequests,
    SlackRequest,
    block_actions,
    event_callback,
    form_body,
    payload_body,
    sign,
    slash_command,
    view_submission,
)
from sandbox.slack_files import UPLOAD_PREFIX, SharedFile, SlackFiles
from sandbox.slack_socket_mode import SOCKET_PATH, SlackSocketMode
from sandbox.slack_web_api import (  # _Refused and _decode: for simulators built on this one
    API_PREFIX,
    RESPONSE_URL_TTL,
    RESPONSE_URL_USES,
    SlackWebApi,
    _decode,  # noqa: F401 - the fault harness and the bench import it from here
    _Refused,  # noqa: F401 - the fault harness and the bench import it from here
)
from sandbox.slack_workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    RESPONSE_PREFIX,
    TEAM_ID,
    ApiCall,
    Ephemeral,
    Message,
)

__all__ = [
    "API_PREFIX", "APP_ID", "BOT_ID", "BOT_USER_ID", "FORM", "JSON", "LEGACY_TOKEN", "MESSAGE_MAX_BLOCKS",
    "MESSAGE_MAX_BLOCK_TEXT", "RESPONSE_PREFIX", "RESPONSE_URL_TTL", "RESPONSE_URL_USES", "SOCKET_PATH",
    "TEAM_ID", "VIEW_MAX_BLOCKS", "ApiCall", "Ephemeral", "Message", "SharedFile", "SlackRequest", "SlackSimulator",
    "block_actions", "block_text_length", "check_blocks", "event_callback", "form_body", "payload_body",
    "render", "sign", "slash_command", "view_submission",
]


class SlackSimulator(AppRequests, SlackSocketMode, SlackFiles, SlackWebApi, LoopbackService):
    """Slack for one workspace and one app, served on 127.0.0.1 (see the module docstring for the parts)."""

    api_prefix = API_PREFIX

    def __init__(self, *, token: str = "xoxb-sandbox-bot-token", app_token: str = "xapp-sandbox-app-token",
                 latency: float = 0.0, trigger_ttl: float = 3.0, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.app_token = app_token
        self.latency = latency
        self.trigger_ttl = trigger_ttl
        self.bot_user_id = BOT_USER_ID
        self.team_id = TEAM_ID
        self._lock = threading.RLock()
        self._server = LoopbackServer(self._build_app, host=host, port=port)
        self.base_url: str | None = None
        self._serial = itertools.count(1)
        self._last_ts = 0
        self.reset()

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(API_PREFIX + "{method}", self._api)
        app.router.add_get(API_PREFIX + "{method}", self._api)
        app.router.add_post(RESPONSE_PREFIX + "{team}/{key}", self._response_url)
        app.router.add_get(SOCKET_PATH, self._socket)
        app.router.add_post(UPLOAD_PREFIX + "{file_id}", self._file_upload)
        return app
