"""A Salla Merchant API v2 simulator (the subset in interfaces.md section 2), over real HTTP.

    with SallaSimulator(store=sample_store()) as sim:
        sim.api_url    # http://127.0.0.1:PORT/admin/v2  -> SALLA_API_URL
        sim.token_url  # http://127.0.0.1:PORT/oauth2/token -> SALLA_TOKEN_URL

Tokens behave as Salla documents them: a refresh returns a new access AND refresh token and
kills both old ones at once; presenting a dead refresh token again revokes everything.

Rate limits: ``rate_limit_per_minute=120`` is a leaky bucket, with ``rate_model="window"`` Salla's
documented window and 1 request a second leak; ``bucket=(capacity, per_second)`` or any model of
``sandbox.ratelimit`` as ``rate_model``. The 403 block: ``block_after_errors=(errors, seconds)``,
or ``block_for(seconds)`` by hand.

Webhooks: the store's registrations (``POST /webhooks/subscribe``, ``PUT /webhooks/{id}``), and
``await sim.deliver(body, to=bot_url)`` sends a body (``sandbox.salla_webhooks``) to each
registration of its event, signed as the registration says, at ``to`` + the registered path
(a registration names a public https address; the bot listens on loopback).
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from sandbox import salla_webhooks
from sandbox.ratelimit import RateModel
from sandbox.salla_store import SallaStore
from sandbox.simulator import Simulator, json_response

API_PREFIX = "/admin/v2"
TOKEN_PATH = "/oauth2/token"
ACCESS_TOKEN_LIFETIME = 1209600  # 14 days, what Salla answers in expires_in

_ERROR_CODES = {400: "bad_request", 401: "Unauthorized", 403: "forbidden", 404: "error",
                405: "method_not_allowed", 422: "validation_failed", 429: "too_many_requests",
                500: "internal_server_error", 503: "service_unavailable"}
NOT_FOUND_MESSAGE = "The content you are looking for is not available"
LOOSE_MODES = (False, "substring", "ignore")


class SallaSimulator(Simulator):
    api_prefix = API_PREFIX

    def __init__(
        self,
        store: SallaStore | None = None,
        *,
        access_token: str = "sandbox-salla-access-0",
        refresh_token: str = "sandbox-salla-refresh-0",
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",
        access_token_ttl: float | None = None,
        refresh_latency: float = 0.0,
        latency: float = 0.0,
        rate_limit_per_minute: int | None = None,
        bucket: tuple[int, float] | None = None,
        rate_model: RateModel | str | None = None,
        block_after_errors: tuple[int, float] | None = None,
        invoices_per_page: int = 15,
        orders_per_page: int = 15,
        loose_reference_filter: bool | str = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(latency=latency, rate_limit_per_minute=rate_limit_per_minute, bucket=bucket,
                         rate_model=rate_model, block_after_errors=block_after_errors, host=host, port=port)
        if loose_reference_filter is True:
            loose_reference_filter = "substring"
        if loose_reference_filter not in LOOSE_MODES:
            raise ValueError(f"loose_reference_filter must be one of {LOOSE_MODES} or True")
        self.store = store if store is not None else SallaStore()
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.refresh_latency = refresh_latency
        self.invoices_per_page = invoices_per_page
        self.webhooks: list[dict[str, Any]] = []  # the store's webhook registrations (secrets kept here)
        self.orders_per_page = orders_per_page
        self.loose_reference_filter: str | bool = loose_reference_filter
        self.refresh_count = 0
        self.revoked = False
        self.access_token = access_token
        self.refresh_token = refresh_token
        self._access_valid = True
        self._access_expires_at = self._expiry()
        self._dead_refresh_tokens: set[str] = set()
        self._token_serial = 0

    @property
    def token_url(self) -> str:
        if self.base_url is None:
            raise RuntimeError("simulator is not started")
        return self.base_url + TOKEN_PATH

    # -- test controls -----------------------------------------------------------------------

    def expire_access_token(self) -> None:
        """The current access token stops working; API calls answer 401 until a refresh."""
        with self._lock:
            self._access_valid = False

    def reinstall(self, access_token: str | None = None,
                  refresh_token: str | None = None) -> tuple[str, str]:
        """The merchant reinstalls the app: fresh tokens, revocation lifted."""
        with self._lock:
            self.revoked = False
            self._issue(access_token, refresh_token)
            return self.access_token, self.refresh_token

    def reset_counters(self) -> None:
        with self._lock:
            super().reset_counters()
            self.refresh_count = 0

    # -- tokens ------------------------------------------------------------------------------

    def _expiry(self) -> float | None:
        return None if self.access_token_ttl is None else time.monotonic() + self.access_token_ttl

    def _issue(self, access_token: str | None = None, refresh_token: str | None = None) -> None:
        self._token_serial += 1
        suffix = f"{self._token_serial}-{secrets.token_hex(6)}"
        self.access_token = access_token or f"sandbox-salla-access-{suffix}"
        self.refresh_token = refresh_token or f"sandbox-salla-refresh-{suffix}"
        self._access_valid = True
        self._access_expires_at = self._expiry()

    def _access_ok(self, presented: str) -> bool:
        with self._lock:
            if self.revoked or not self._access_valid or presented != self.access_token:
                return False
            return self._access_expires_at is None or time.monotonic() < self._access_expires_at

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(400, "unsupported_grant_type",
                                "The authorization grant type is not supported by the authorization server.")
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        presented = str(form.get("refresh_token") or "")
        if not presented:
            return _oauth_error(400, "invalid_request",
                                'The request is missing a required parameter: "refresh_token".')
        # Decide (and rotate) before the latency, so two concurrent refreshes with the same
        # token race exactly as they would against Salla: the second one revokes everything.
        with self._lock:
            if not self.revoked and presented == self.refresh_token:
                self._dead_refresh_tokens.add(presented)
                self._issue()
                self.refresh_count += 1
                granted = {
                    "access_token": self.access_token,
                    "refresh_token": self.refresh_token,
                    "expires_in": self._expires_in(),
                    "expires": int(time.time()) + self._expires_in(),
                    "token_type": "bearer",
                }
            else:
                granted = None
                if presented in self._dead_refresh_tokens or presented == self.refresh_token:
                    self.revoked = True  # reuse of a dead token: everything goes
        if self.refresh_latency:
            await asyncio.sleep(self.refresh_latency)
        if granted is None:
            return _oauth_error(401, "invalid_grant", "The refresh token is invalid.",
                                hint="Token has been revoked")
        return json_response(granted)

    def _expires_in(self) -> int:
        if self.access_token_ttl is None:
            return ACCESS_TOKEN_LIFETIME
        return max(1, math.ceil(self.access_token_ttl))

    # -- Simulator hooks ---------------------------------------------------------------------

    def _authenticate(self, request: web.Request) -> web.Response | None:
        if not request.path.startswith(API_PREFIX):
            return None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self._access_ok(token.strip()):
            return None
        return self._error(401, "The access token is invalid")

    def _error(self, status: int, message: str, *, headers: dict[str, str] | None = None,
               **extra: Any) -> web.Response:
        error: dict[str, Any] = {"code": _ERROR_CODES.get(status, "error"), "message": message}
        error.update(extra)
        return json_response({"status": status, "success": False, "error": error}, status, headers)

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post(TOKEN_PATH, self._token)
        # Static paths first: "/orders/invoices" must not be read as order id "invoices".
        app.router.add_get(API_PREFIX + "/orders", self._orders)
        app.router.add_get(API_PREFIX + "/orders/invoices", self._invoices)
        app.router.add_get(API_PREFIX + "/orders/invoices/{invoice_id}", self._invoice)
        app.router.add_get(API_PREFIX + "/orders/items", self._order_items)
        app.router.add_get(API_PREFIX + "/orders/{order_id}", self._order)
        app.router.add_post(API_PREFIX + "/webhooks/subscribe", self._subscribe)
        app.router.add_put(API_PREFIX + "/webhooks/{webhook_id}", self._secure_webhook)
        app.router.add_get(API_PREFIX + "/webhooks", self._webhooks)

    # -- webhook registrations (POST /webhooks/subscribe, PUT /webhooks/{id}, GET /webhooks) -------

    async def _subscribe(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body, dict) or not body.get("event") or not body.get("url") or not body.get("name"):
            return self._error(422, "name, event and url are required")
        if "localhost" in str(body["url"]) or not str(body["url"]).startswith("https://"):
            return self._error(422, "the url must be a public https address")
        with self._lock:
            self._webhook_serial = getattr(self, "_webhook_serial", 0) + 1
            hook = {"id": self._webhook_serial, "name": body["name"], "event": body["event"], "url": body["url"],
                    "version": body.get("version", 2), "security_strategy": None}
            self.webhooks.append(hook)
        return self._ok({k: v for k, v in hook.items() if k != "secret"})

    async def _secure_webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            hook = next((h for h in self.webhooks if str(h["id"]) == request.match_info["webhook_id"]), None)
            if hook is None:
                return self._error(404, NOT_FOUND_MESSAGE)
            if body.get("security_strategy") not in ("signature", "token") or not body.get("secret"):
                return self._error(422, "security_strategy (signature or token) and secret are required")
            hook["security_strategy"], hook["secret"] = body["security_strategy"], body["secret"]
        return self._ok({k: v for k, v in hook.items() if k != "secret"})

    async def deliver(self, body: dict[str, Any], *, to: str) -> list[int]:
        """Send ``body`` to the store's registrations of its event (none: nothing is sent), as
        Salla does; the HTTP status of each delivery."""
        with self._lock:
            hooks = [dict(h) for h in self.webhooks if h["event"] == body.get("event")]
        raw = salla_webhooks.raw(body)
        statuses = []
        async with aiohttp.ClientSession() as http:
            for hook in hooks:
                parts = urlsplit(hook["url"])
                url = to.rstrip("/") + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                sent = salla_webhooks.headers(raw, strategy=hook.get("security_strategy") or "none",
                                              secret=hook.get("secret") or "")
                async with http.post(url, data=raw, headers=sent) as response:
                    statuses.append(response.status)
        return statuses

    async def _webhooks(self, request: web.Request) -> web.Response:
        with self._lock:
            rows = [{k: v for k, v in h.items() if k != "secret"} for h in self.webhooks]
        return self._page(request, rows, self.orders_per_page)

    # -- API handlers ------------------------------------------------------------------------

    async def _orders(self, request: web.Request) -> web.Response:
        wanted = request.query.get("reference_id", "").strip()
        with self.store.lock:
            orders = sorted(self.store.orders, key=lambda o: o.id, reverse=True)  # newest first
            if wanted and self.loose_reference_filter != "ignore":
                exact = [o for o in orders if str(o.reference_id) == wanted]
                near = [o for o in orders
                        if wanted in str(o.reference_id) and str(o.reference_id) != wanted]
                # Near misses come first: a client must check the field, not take data[0].
                orders = near + exact if self.loose_reference_filter == "substring" else exact
            rows = [o.summary_json() for o in orders]
        return self._page(request, rows, self.orders_per_page)

    async def _order(self, request: web.Request) -> web.Response:
        order_id = _int(request.match_info["order_id"])
        order = None if order_id is None else self.store.order_by_id(order_id)
        if order is None:
            return self._error(404, NOT_FOUND_MESSAGE)
        with self.store.lock:
            return self._ok(order.to_json())

    async def _invoices(self, request: web.Request) -> web.Response:
        """The invoice list: by order (``order_id``) or by invoice date (``from_date``/``to_date``,
        ``YYYY-MM-DD``, both inclusive), as Salla documents it."""
        raw = request.query.get("order_id")
        order_id = _int(raw) if raw else None
        since, until = request.query.get("from_date"), request.query.get("to_date")
        with self.store.lock:
            invoices = self.store.all_invoices()
            if raw:
                invoices = [i for i in invoices if i.order_id == order_id]
            if since:
                invoices = [i for i in invoices if i.date[:10] >= since]
            if until:
                invoices = [i for i in invoices if i.date[:10] <= until]
            invoices.sort(key=lambda i: i.id)
            return self._page(request, invoices, self.invoices_per_page, render=lambda i: i.header_json())

    async def _invoice(self, request: web.Request) -> web.Response:
        invoice_id = _int(request.match_info["invoice_id"])
        invoice = None if invoice_id is None else self.store.invoice_by_id(invoice_id)
        if invoice is None:
            return self._error(404, NOT_FOUND_MESSAGE)
        with self.store.lock:
            return self._ok(invoice.to_json())

    async def _order_items(self, request: web.Request) -> web.Response:
        raw = request.query.get("order_id")
        if not raw:
            return self._error(422, "alert.invalid_fields",
                               fields={"order_id": ["The order id field is required."]})
        order_id = _int(raw)
        order = None if order_id is None else self.store.order_by_id(order_id)
        with self.store.lock:
            rows = [] if order is None else [i.to_json(order.currency) for i in order.items]
        return self._page(request, rows, max(len(rows), 1))

    # -- envelopes ---------------------------------------------------------------------------

    def _ok(self, data: Any) -> web.Response:
        return json_response({"status": 200, "success": True, "data": data})

    def _page(self, request: web.Request, rows: list[Any], per_page: int,
              render: Callable[[Any], Any] | None = None) -> web.Response:
        """One page of ``rows`` (``render``: each row of the page as JSON). The simulator's
        per_page caps what the client asks for."""
        asked = _int(request.query.get("per_page", ""))
        if asked is not None and asked > 0:
            per_page = min(per_page, asked)
        total_pages = max(1, math.ceil(len(rows) / per_page))
        page = _int(request.query.get("page", "")) or 1
        page = max(page, 1)
        chunk = rows[(page - 1) * per_page: page * per_page]
        if render is not None:
            chunk = [render(row) for row in chunk]
        links: dict[str, str] = {}
        if page < total_pages:
            links["next"] = str(request.url.update_query(page=page + 1))
        if page > 1:
            links["previous"] = str(request.url.update_query(page=page - 1))
        return json_response({
            "status": 200, "success": True, "data": chunk,
            "pagination": {"count": len(chunk), "total": len(rows), "perPage": per_page,
                           "currentPage": page, "totalPages": total_pages, "links": links},
        })


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _oauth_error(status: int, error: str, description: str, **extra: str) -> web.Response:
    """The bare OAuth error body of accounts.salla.sa (no Salla envelope)."""
    return json_response({"error": error, "error_description": description, "message": description,
                          **extra}, status)
