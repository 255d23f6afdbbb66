"""Settings from the environment (and a ``.env`` file), checked once at start-up.

A missing or malformed setting stops start-up with one line naming the variable; secrets are
``SecretStr`` so they never print.
"""

from __future__ import annotations

from functools import cached_property

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing import Annotated, Literal


CLAIM_LEASE_PER_TIMEOUT = 3  # a claim lease is at least this many HTTP timeouts


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable and never its value."""


def _split_ids(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)  # type: ignore[arg-type]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    salla_api_url: str = "https://api.salla.dev/admin/v2"
    salla_access_token: SecretStr | None = None
    salla_refresh_token: SecretStr | None = None
    salla_client_id: str | None = None
    salla_client_secret: SecretStr | None = None
    salla_token_url: str = "https://accounts.salla.sa/oauth2/token"
    # Salla's webhooks: POST /salla/webhooks is served only with a secret; events of another store ignored.
    salla_webhook_secret: SecretStr | None = None
    # Encrypts the stored Salla tokens (``salla-sync db new-key`` makes one).
    salla_sync_secret_key: SecretStr | None = None
    salla_store_id: str | None = None

    enerpize_api_url: str | None = None
    enerpize_api_key: SecretStr | None = None
    # "on" when the tenant also runs Enerpize's own Salla integration (interfaces.md "native guard").
    enerpize_native_salla: bool = False

    database_url: str = "sqlite:///salla_sync.db"

    salla_sync_allowed_users: Annotated[list[str], NoDecode] = Field(default_factory=list)
    salla_sync_allowed_channels: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # The daily audit: yesterday's, posted in this channel once a day at this time (Asia/Riyadh).
    salla_sync_audit_channel: str | None = None
    salla_sync_audit_at: str = "07:00"
    # Where every order an automatic (webhook) sync leaves Failed is posted, with a Retry button.
    salla_sync_alerts_channel: str | None = None
    # "text" (default) or "json": one JSON object a log line, with run id, order number and source.
    salla_sync_log_format: Literal["text", "json"] = "text"

    # Tuning (not in the contract's table; safe defaults).
    # Orders in flight per process. Each waits on the network almost all the time (Salla's rate limit
    # is paced separately), so the run is near its rate-limit bound only with many in flight.
    salla_sync_concurrency: int = Field(default=64, ge=1, le=100)
    salla_sync_http_timeout: float = Field(default=20.0, gt=0, le=300)
    # Durable runs. A process holds each run it executes (and its Slack thread) for this long,
    # renewing the hold every third of it; once a process dies, another takes its runs over after
    # at most this long. Replicas look for such runs every third of it.
    salla_sync_lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    # The claim on one Salla invoice while its Enerpize document is being created, renewed while
    # the process lives. After a crash, the document is looked up (never blindly created again)
    # once this has passed: it must stay well above one HTTP call's timeout, so a create sent just
    # before the crash has landed (or failed) by then.
    salla_sync_claim_lease_seconds: float = Field(default=120.0, ge=1, le=3600)

    @field_validator("salla_sync_allowed_users", "salla_sync_allowed_channels", mode="before")
    @classmethod
    def _ids(cls, value: object) -> list[str]:
        return _split_ids(value)

    @field_validator("salla_api_url", "salla_token_url", "enerpize_api_url", "slack_api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("salla_sync_claim_lease_seconds")
    @classmethod
    def _claim_lease(cls, value: float, info: ValidationInfo) -> float:
        timeout = info.data.get("salla_sync_http_timeout")
        if timeout is not None and value < CLAIM_LEASE_PER_TIMEOUT * timeout:
            raise ValueError(f"must be at least {CLAIM_LEASE_PER_TIMEOUT} times SALLA_SYNC_HTTP_TIMEOUT "
                             f"({CLAIM_LEASE_PER_TIMEOUT * timeout:g} s), so a create in flight when a "
                             "process dies has landed before another process looks it up")
        return value

    @field_validator("salla_sync_audit_at")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        try:
            hours, minutes = (int(part) for part in value.strip().split(":"))
            if not (0 <= hours < 24 and 0 <= minutes < 60):
                raise ValueError
        except ValueError:
            raise ValueError("must be a time of day as HH:MM, e.g. 07:00") from None
        return f"{hours:02d}:{minutes:02d}"

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("must be an SQLAlchemy URL such as sqlite:///salla_sync.db")
        return value

    @cached_property
    def secrets(self) -> list[str]:
        """Every secret value, so that logs and messages can be scrubbed of them."""
        found = []
        for name in ("slack_bot_token", "slack_signing_secret", "slack_app_token", "salla_access_token",
                     "salla_refresh_token", "salla_client_secret", "enerpize_api_key", "salla_webhook_secret",
                     "salla_sync_secret_key"):
            value = getattr(self, name)
            if value is not None and value.get_secret_value():
                found.append(value.get_secret_value())
        return found

    def require(self, *names: str) -> None:
        """Stop with one clear line naming the first missing variable."""
        for name in names:
            if getattr(self, name) in (None, ""):
                raise ConfigError(f"{name.upper()} is not set")


def load_settings(**overrides: object) -> Settings:
    """Read the settings; a bad one raises ConfigError naming the variable (not its value)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first.get("loc") else "a setting"
        raise ConfigError(f"{name} is malformed: {first['msg']}") from None
