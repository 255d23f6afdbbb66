"""``GET /metrics``: what a run did, as Prometheus scrapes it, compared with what the simulators saw."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


async def scrape(bot) -> dict[tuple[str, tuple], float]:
    async with bot.http.get(bot.url + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def calls_to(before: dict, after: dict, api: str) -> float:
    """Every outcome: a 404 for an order that does not exist is a call too."""
    return sum(delta(before, after, "salla_sync_api_calls_total", api=api, outcome=outcome)
               for outcome in ("ok", "client_error", "server_error", "rate_limited", "unreachable"))


async def test_metrics_count_what_a_run_did(bot):
    before = await scrape(bot)
    salla_calls, enerpize_calls, slack_calls = len(bot.salla.calls), len(bot.enerpize.calls), len(bot.slack.calls())
    await bot.sync("1001\n1002\n1099\n1011")
    after = await scrape(bot)

    assert delta(before, after, "salla_sync_orders_total", status="success", source="slack") == 2
    assert delta(before, after, "salla_sync_orders_total", status="record_not_found", source="slack") == 1
    assert delta(before, after, "salla_sync_orders_total", status="failed", source="slack") == 1
    assert delta(before, after, "salla_sync_documents_total", kind="invoice", status="success") == 2
    assert delta(before, after, "salla_sync_documents_total", kind="return", status="success") == 1
    # Every request the simulators answered, counted once where it left the bot.
    assert calls_to(before, after, "salla") == len(bot.salla.calls) - salla_calls
    assert delta(before, after, "salla_sync_api_calls_total", api="salla", outcome="client_error") == 1  # 1099
    assert calls_to(before, after, "enerpize") == len(bot.enerpize.calls) - enerpize_calls
    assert calls_to(before, after, "slack") == len(bot.slack.calls()) - slack_calls
    assert delta(before, after, "salla_sync_api_call_seconds_count", api="salla") == len(bot.salla.calls) - salla_calls
    assert after[("salla_sync_runs_in_flight", ())] == 0


async def test_errors_and_rate_limits_are_counted_by_outcome(bot):
    before = await scrape(bot)
    bot.salla.fail_next(status=429, count=2, retry_after=0)
    bot.enerpize.fail_next(status=503, count=1)
    await bot.sync("1001")
    after = await scrape(bot)
    assert delta(before, after, "salla_sync_api_calls_total", api="salla", outcome="rate_limited") == 2
    assert delta(before, after, "salla_sync_api_calls_total", api="enerpize", outcome="server_error") == 1
