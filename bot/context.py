"""The modal's context, carried by Slack in the view's ``private_metadata`` (≤ 3000 characters).

A view submission says who submitted but not where the command was typed, so the channel,
the user and the command's ``response_url`` travel with the view as this typed object.
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PRIVATE_METADATA_MAX = 3000


class Origin(str, enum.Enum):
    COMMAND = "command"  # results go to the channel the command was typed in
    HOME = "home"  # results go to the user's DM with the bot
    MESSAGE = "message"  # "Sync orders in message": results in that message's thread


class ModalContext(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    origin: Origin = Origin.COMMAND
    user_id: str
    channel_id: str | None = None
    message_ts: str | None = None  # the message whose numbers are synced, its results threaded under it
    response_url: str | None = Field(default=None, max_length=1000)

    def dump(self) -> str:
        text = self.model_dump_json(exclude_none=True)
        if len(text) > PRIVATE_METADATA_MAX:  # only a monstrous response_url could do this
            text = self.model_copy(update={"response_url": None}).model_dump_json(exclude_none=True)
        return text

    @classmethod
    def load(cls, text: str | None) -> ModalContext | None:
        """The context, or None when the metadata is missing or not ours."""
        if not text:
            return None
        try:
            return cls.model_validate_json(text)
        except ValidationError:
            return None
