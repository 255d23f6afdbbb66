"""Socket Mode: the app opens a WebSocket instead of taking HTTP requests.

apps.connections.open (called with the app-level token, ``app_token``) hands out a ``ws://`` URL on the
simulator's ``SOCKET_PATH``; a connection gets Slack's ``hello`` and then the envelopes
``socket_send`` delivers (a slash command, an interactivity payload or an Events API body), and the
app's acks land in ``socket_acks`` (envelope_id -> the ack's payload).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from sandbox.slack_workspace import APP_ID, SlackWorkspace

if TYPE_CHECKING:
    from sandbox.server import LoopbackServer

SOCKET_PATH = "/socket"


class SlackSocketMode(SlackWorkspace):
    """Socket Mode connections to the workspace (``SlackSimulator.__init__`` sets the server it runs on)."""

    _server: LoopbackServer

    def reset(self) -> None:
        with self._lock:
            super().reset()
            self._sockets: list[web.WebSocketResponse] = []
            self.socket_acks: dict[str, Any] = {}  # envelope_id -> the payload the app acked with

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        assert self.base_url is not None
        return {"url": "ws" + self.base_url[len("http"):] + SOCKET_PATH + f"?ticket={uuid.uuid4()}"}

    @property
    def socket_connections(self) -> int:
        with self._lock:
            return len(self._sockets)

    def socket_send(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver an envelope on the newest Socket Mode connection; its id (its ack lands in ``socket_acks``).

        ``kind``: "slash_commands" (payload: the command's fields), "interactive" (a view_submission or
        block_actions payload) or "events_api" (an event_callback body). ``SlackRequest.payload`` gives each.
        """
        with self._lock:
            if not self._sockets:
                raise RuntimeError("no Socket Mode connection")
            socket = self._sockets[-1]
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                                    "accepts_response_payload": kind != "events_api"}
        if kind == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        self._server.call(socket.send_json, envelope)
        return envelope_id

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        with self._lock:
            self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": len(self._sockets),
                                "connection_info": {"app_id": APP_ID}, "debug_info": {"host": "sandbox"}})
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                except json.JSONDecodeError:
                    continue
                if isinstance(data, dict) and "envelope_id" in data:
                    with self._lock:
                        self.socket_acks[data["envelope_id"]] = data.get("payload")
        finally:
            with self._lock:
                if socket in self._sockets:
                    self._sockets.remove(socket)
        return socket

