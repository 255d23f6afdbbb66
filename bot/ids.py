"""Every id Slack sends back to us: command, callback, block and action ids, in one place.

Changing a value here changes it everywhere; a listener never spells an id itself.
"""

from __future__ import annotations

import enum

COMMAND = "/salla-sync"


class CallbackId(str, enum.Enum):
    SYNC_MODAL = "salla_sync_modal"
    HOME = "salla_sync_home"
    MESSAGE_SHORTCUT = "sync_orders_in_message"


class BlockId(str, enum.Enum):
    NUMBERS = "order_numbers"
    RUN_CONTROLS = "run_controls"
    HOME_CONTROLS = "home_controls"
    HOME_FILTERS = "home_filters"
    HOME_PAGES = "home_pages"
    ALERT_CONTROLS = "alert_controls"
    AUDIT_CONTROLS = "audit_controls"
    HOME_AUDIT = "home_audit"


class ActionId(str, enum.Enum):
    NUMBERS_INPUT = "order_numbers_input"
    CANCEL_RUN = "cancel_run"
    RERUN_FAILED = "rerun_failed"
    SYNC_AUDIT_MISSING = "sync_audit_missing"
    DOWNLOAD_CSV = "download_csv"
    DOWNLOAD_AUDIT_CSV = "download_audit_csv"
    RETRY_ALERT = "retry_alert"
    HOME_AUDIT_FROM = "home_audit_from"
    HOME_AUDIT_TO = "home_audit_to"
    HOME_AUDIT_FIND = "home_audit_find"
    HOME_PERSON_FILTER = "home_person_filter"
    HOME_LOG_FROM = "home_log_from"
    HOME_LOG_TO = "home_log_to"
    HOME_OLDER = "home_older"
    HOME_NEWER = "home_newer"
    HOME_SYNC_NEW = "home_sync_new"
    HOME_STATUS_FILTER = "home_status_filter"
