"""Who may run syncs, from where (``SALLA_SYNC_ALLOWED_USERS`` / ``_CHANNELS``; empty = everyone)."""

from __future__ import annotations

from dataclasses import dataclass

from sync_core.settings import Settings


@dataclass(frozen=True)
class Access:
    users: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        return cls(frozenset(settings.salla_sync_allowed_users), frozenset(settings.salla_sync_allowed_channels))

    def user_allowed(self, user_id: str | None) -> bool:
        return not self.users or (user_id is not None and user_id in self.users)

    def refusal(self, user_id: str | None, channel_id: str | None = None, *, from_home: bool = False) -> str | None:
        """Why this user may not sync here, or None when they may."""
        if not self.user_allowed(user_id):
            return "Sorry, you are not on the list of people allowed to run Salla syncs. Ask an admin to add you."
        if from_home:
            # The Home tab has no channel: with a channel list, only users named explicitly may sync from it.
            if self.channels and not (self.users and user_id in self.users):
                return "Salla syncs are limited to certain channels; run /salla-sync in one of them."
            return None
        if self.channels and channel_id not in self.channels:
            return "Sorry, Salla syncs can't be run from this channel. Use one of the channels set up for it."
        return None
