"""Files in the Slack simulator: the three steps of ``files_upload_v2`` as Slack documents them.

``files.getUploadURLExternal`` (filename, length) hands out an upload URL and a file id; the app
POSTs the bytes there; ``files.completeUploadExternal`` (files=[{id, title}], channel_id,
thread_ts) shares the file in the channel or thread. ``uploaded_files()`` is what was shared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

UPLOAD_PREFIX = "/upload/v1/"


@dataclass
class SharedFile:
    file_id: str
    filename: str
    title: str | None
    content: bytes
    channel: str | None
    thread_ts: str | None


class SlackFiles:
    """Mixed into the simulator (its lock, ``base_url``, ``_serial`` and ``_Refused`` are the Web API's)."""

    def reset(self) -> None:
        with self._lock:
            super().reset()
            self._uploads: dict[str, dict[str, Any]] = {}  # file id -> {filename, length, content}
            self._shared: list[SharedFile] = []

    def uploaded_files(self, channel: str | None = None) -> list[SharedFile]:
        with self._lock:
            return [f for f in self._shared if channel is None or f.channel == channel]

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        from sandbox.slack_web_api import _Refused

        filename, length = args.get("filename"), str(args.get("length") or "")
        if not filename or not length.isdigit() or int(length) <= 0:
            raise _Refused("invalid_arguments")
        file_id = f"F{next(self._serial):010d}"
        self._uploads[file_id] = {"filename": filename, "length": int(length), "content": None}
        return {"upload_url": f"{self.base_url}{UPLOAD_PREFIX}{file_id}", "file_id": file_id}

    async def _file_upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        content = await request.read()
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None:
                return web.Response(status=404, text="not found")
            upload["content"] = content
        return web.Response(text=f"OK - {len(content)}")

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        from sandbox.slack_web_api import _Refused

        files = args.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        shared = []
        for entry in files or []:
            upload = self._uploads.get(entry.get("id"))
            if upload is None or upload["content"] is None:
                raise _Refused("file_not_found")
            if len(upload["content"]) != upload["length"]:
                raise _Refused("file_size_mismatch")
            self._shared.append(SharedFile(entry["id"], upload["filename"], entry.get("title"), upload["content"],
                                           args.get("channel_id"), args.get("thread_ts")))
            shared.append({"id": entry["id"], "title": entry.get("title"), "name": upload["filename"]})
        if not shared:
            raise _Refused("invalid_arguments")
        return {"files": shared}
