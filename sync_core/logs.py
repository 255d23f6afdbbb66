"""Logging that never prints a secret: every formatted line is scrubbed of the configured secrets.

``SALLA_SYNC_LOG_FORMAT=json`` writes one JSON object a line; a line logged while a number is being
synced carries its ``run_id``, ``number`` and ``source`` (set by the run engine with
``logging_context``), in either format.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

CONTEXT_FIELDS = ("run_id", "number", "source")
_CONTEXT: ContextVar[dict[str, object]] = ContextVar("salla_sync_log_context", default={})


@contextmanager
def logging_context(**fields: object) -> Iterator[None]:
    """Lines logged inside (in this task) carry these fields."""
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Puts the current ``logging_context`` fields on every record (None where unset)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CONTEXT.get()
        for name in CONTEXT_FIELDS:
            setattr(record, name, context.get(name))
        shown = [f"{name}={context[name]}" for name in CONTEXT_FIELDS if context.get(name) is not None]
        record.context = f" [{' '.join(shown)}]" if shown else ""  # the text format's
        return True


class ScrubbingFormatter(logging.Formatter):
    """Formats as usual (tracebacks included), then blanks out every secret value."""

    def __init__(self, secrets: Iterable[str], fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


class JsonFormatter(ScrubbingFormatter):
    """One JSON object a line: time, level, logger, message, the context fields, the traceback."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__(secrets, "%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        text = json.dumps(line, ensure_ascii=False, default=str)
        for secret in self._secrets:  # after encoding: a secret is scrubbed however JSON escaped it
            text = text.replace(secret, "***").replace(json.dumps(secret)[1:-1], "***")
        return text


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"


def setup_logging(secrets: Iterable[str], level: int = logging.INFO, *, fmt: str = "text") -> None:
    """Log to stderr, scrubbed, as text or JSON lines; httpx's per-request lines (they carry URLs)
    only at DEBUG."""
    secrets = list(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else ScrubbingFormatter(secrets, TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
