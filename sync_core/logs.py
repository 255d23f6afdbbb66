"""Logging that never prints a secret: every formatted line is scrubbed of the configured secrets."""

from __future__ import annotations

import logging
from collections.abc import Iterable


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


def setup_logging(secrets: Iterable[str], level: int = logging.INFO) -> None:
    """Log to stderr, scrubbed; httpx's per-request lines (they carry URLs) only at DEBUG."""
    handler = logging.StreamHandler()
    handler.setFormatter(ScrubbingFormatter(secrets, "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
