"""The Invoice Sync Log, the ledger of synced invoices and the Salla tokens, in one SQL database."""

from sync_core.store.store import AlreadySynced, Claim, ClaimBusy, Store

__all__ = ["AlreadySynced", "Claim", "ClaimBusy", "Store"]
