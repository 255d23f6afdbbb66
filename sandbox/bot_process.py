"""The bot as a real process (``salla-sync-bot --http``) against the simulators: for fault tests
that kill it, replicas, and the benchmark's memory figure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sandbox.enerpize_sim import EnerpizeSimulator
from sandbox.salla_sim import SallaSimulator
from sandbox.slack_sim import SlackSimulator

SIGNING_SECRET = "sandbox-signing-secret-0123456789"
_PREFIXES = ("SALLA_", "ENERPIZE_", "SLACK_", "DATABASE_")


def bot_env(slack: SlackSimulator, salla: SallaSimulator, enerpize: EnerpizeSimulator, database_url: str,
            **extra: str) -> dict[str, str]:
    """The environment of a bot pointed at the simulators (nothing inherited from ours but PATH & co)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PREFIXES)}
    env.update({
        "SLACK_BOT_TOKEN": slack.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack.api_url,
        "SALLA_API_URL": salla.api_url, "SALLA_TOKEN_URL": salla.token_url,
        "SALLA_ACCESS_TOKEN": salla.access_token, "SALLA_REFRESH_TOKEN": salla.refresh_token,
        "SALLA_CLIENT_ID": salla.client_id, "SALLA_CLIENT_SECRET": salla.client_secret,
        "ENERPIZE_API_URL": enerpize.api_url, "ENERPIZE_API_KEY": enerpize.api_key,
        "DATABASE_URL": database_url, "SALLA_SYNC_HTTP_TIMEOUT": "5",
    })
    env.update({k.upper(): str(v) for k, v in extra.items()})
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BotProcess:
    """``salla-sync-bot --http`` on 127.0.0.1 (``socket_mode``: over Socket Mode, ``/healthz`` still on
    its port); ``start()`` returns once ``/healthz`` answers 200."""

    def __init__(self, env: dict[str, str], *, log_path: Path | None = None, port: int | None = None,
                 socket_mode: bool = False) -> None:
        self.env = env
        self.socket_mode = socket_mode
        self.log_path = log_path
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> str:
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.main", *([] if self.socket_mode else ["--http"]),
             "--host", "127.0.0.1", *(["--webhook-port"] if self.socket_mode else ["--port"]), str(self.port)],
            env=self.env, stdout=self._log, stderr=self._log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the bot exited with {self.proc.returncode} while starting")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self.url
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("the bot did not become healthy in time")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye (a crash, an OOM kill, a pulled plug)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a deploy does; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()
        return self.proc.returncode

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory (VmHWM), in MB; Linux only."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc status")

    def _close_log(self) -> None:
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None

    def __enter__(self) -> BotProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
