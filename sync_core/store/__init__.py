"""The Invoice Sync Log, the ledger of synced invoices and the Salla tokens, in one SQL database."""

from sync_core.store.locks import LockTimeout
from sync_core.store.schema import SchemaBehind, SchemaError, SchemaMissing, SchemaUnknown
from sync_core.store.ledger import AlreadySynced, Claim, ClaimBusy
from sync_core.store.store import Store

__all__ = ["AlreadySynced", "Claim", "ClaimBusy", "LockTimeout", "SchemaBehind", "SchemaError", "SchemaMissing",
           "SchemaUnknown", "Store"]
