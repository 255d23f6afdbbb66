"""What a sync says about each input number: the words people read in Slack, the CLI and the log."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from sync_core.money import fmt
from sync_core.salla.models import DocumentKind


class SyncStatus(str, enum.Enum):
    SUCCESS = "Success"
    FAILED = "Failed"
    NOT_FOUND = "Record not found"
    CANCELLED = "Cancelled"


@dataclass(frozen=True)
class DocumentResult:
    """One Salla invoice's outcome: the Enerpize document it is, or why it is not."""

    kind: DocumentKind | None
    status: SyncStatus
    salla_invoice_id: int | None = None
    salla_invoice_number: str | None = None
    enerpize_id: str | None = None
    enerpize_number: str | None = None
    total: Decimal | None = None
    currency: str | None = None
    reason: str | None = None
    already_synced: bool = False

    def detail(self) -> str:
        """The words after the status: the Enerpize number, or the reason."""
        if self.status is SyncStatus.SUCCESS:
            what = "return" if self.kind is DocumentKind.RETURN else "invoice"
            number = self.enerpize_number or self.enerpize_id or "?"
            text = f"already synced as {what} {number}" if self.already_synced else f"{what} {number}"
            if self.total is not None:
                text += f" ({fmt(self.total)} {self.currency or ''})".rstrip()
            return text
        return self.reason or ""


@dataclass(frozen=True)
class OrderResult:
    """Everything about one input number: its order and one result per document."""

    number: str
    status: SyncStatus
    reason: str | None = None
    salla_order_id: int | None = None
    salla_reference: int | None = None
    documents: tuple[DocumentResult, ...] = field(default=())

    @staticmethod
    def overall(documents: tuple[DocumentResult, ...] | list[DocumentResult]) -> SyncStatus:
        statuses = {d.status for d in documents}
        for status in (SyncStatus.FAILED, SyncStatus.CANCELLED, SyncStatus.NOT_FOUND):
            if status in statuses:
                return status
        return SyncStatus.SUCCESS

    def to_json(self) -> dict:
        return {
            "number": self.number,
            "status": self.status.value,
            "salla_order_id": self.salla_order_id,
            "salla_reference": self.salla_reference,
            "documents": [
                {
                    "kind": d.kind.value if d.kind else None,
                    "status": d.status.value,
                    "salla_invoice_id": d.salla_invoice_id,
                    "salla_invoice_number": d.salla_invoice_number,
                    "enerpize_id": d.enerpize_id,
                    "enerpize_number": d.enerpize_number,
                    "total": fmt(d.total) if d.total is not None else None,
                    "currency": d.currency,
                    "reason": d.reason,
                }
                for d in self.documents
            ],
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ResultLine:
    """One line a person reads: the number, one status word, the detail."""

    number: str
    status: SyncStatus
    detail: str
    kind: DocumentKind | None = None


def result_lines(result: OrderResult) -> list[ResultLine]:
    """One line per document, or one for the order when it has none (not found, no invoice…)."""
    if not result.documents:
        return [ResultLine(result.number, result.status, result.reason or "")]
    return [ResultLine(result.number, d.status, d.detail(), d.kind) for d in result.documents]
