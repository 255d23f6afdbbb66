"""What a process has done, for Prometheus (``GET /metrics`` on the bot's HTTP server).

    salla_sync_orders_total{status, source}      each number's final status, by what started its run
    salla_sync_documents_total{kind, status}     each document's status
    salla_sync_api_calls_total{api, outcome}     every HTTP request to Salla, Enerpize and Slack
    salla_sync_api_call_seconds{api}             their latency (histogram)
    salla_sync_runs_in_flight                    runs this process drives now

API calls are counted where they leave the process: a trace on the aiohttp session each API's
client sends through (``trace_config``), so retries, refreshes and probes count, each once.
"""

from __future__ import annotations

import time
import weakref
from types import SimpleNamespace
from typing import Any

import aiohttp
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from sync_core.results import OrderResult, SyncStatus

REGISTRY = CollectorRegistry(auto_describe=True)

ORDERS = Counter("salla_sync_orders", "Numbers synced, by final status and by what started their run",
                 ["status", "source"], registry=REGISTRY)
DOCUMENTS = Counter("salla_sync_documents", "Documents synced, by kind and status", ["kind", "status"],
                    registry=REGISTRY)
API_CALLS = Counter("salla_sync_api_calls", "HTTP requests to Salla, Enerpize and Slack, by outcome",
                    ["api", "outcome"], registry=REGISTRY)
API_SECONDS = Histogram("salla_sync_api_call_seconds", "HTTP request latency, by API", ["api"], registry=REGISTRY,
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
RUNS_IN_FLIGHT = Gauge("salla_sync_runs_in_flight", "Runs this process drives now", registry=REGISTRY)

_ENGINES: weakref.WeakSet[Any] = weakref.WeakSet()
RUNS_IN_FLIGHT.set_function(lambda: sum(len(engine.running) for engine in list(_ENGINES)))

STATUS = {SyncStatus.SUCCESS: "success", SyncStatus.FAILED: "failed", SyncStatus.NOT_FOUND: "record_not_found",
          SyncStatus.CANCELLED: "cancelled"}


def track_engine(engine: Any) -> None:
    """Count this engine's runs in ``salla_sync_runs_in_flight`` (for as long as it lives)."""
    _ENGINES.add(engine)


def count_result(result: OrderResult, source: str) -> None:
    """One number's final result, stored."""
    ORDERS.labels(status=STATUS[result.status], source=source).inc()
    for document in result.documents:
        kind = document.kind.value if document.kind else "unknown"
        DOCUMENTS.labels(kind=kind, status=STATUS[document.status]).inc()


def outcome(status: int) -> str:
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    return "ok"


def trace_config(api: str) -> aiohttp.TraceConfig:
    """Counts and times every request of an aiohttp session as ``api`` ("salla", "enerpize", "slack")."""
    config = aiohttp.TraceConfig()

    async def started(_session: aiohttp.ClientSession, context: SimpleNamespace, _params: Any) -> None:
        context.started = time.perf_counter()

    async def ended(_session: aiohttp.ClientSession, context: SimpleNamespace,
                    params: aiohttp.TraceRequestEndParams) -> None:
        API_CALLS.labels(api=api, outcome=outcome(params.response.status)).inc()
        API_SECONDS.labels(api=api).observe(time.perf_counter() - context.started)

    async def failed(_session: aiohttp.ClientSession, context: SimpleNamespace, _params: Any) -> None:
        API_CALLS.labels(api=api, outcome="unreachable").inc()
        API_SECONDS.labels(api=api).observe(time.perf_counter() - getattr(context, "started", time.perf_counter()))

    config.on_request_start.append(started)
    config.on_request_end.append(ended)
    config.on_request_exception.append(failed)
    return config


def exposition() -> tuple[bytes, str]:
    """The Prometheus text exposition, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
