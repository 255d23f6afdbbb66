"""Every HTTP request must carry Slack's signature: forged, unsigned, stale or tampered -> 401, nothing done."""

from __future__ import annotations

import time

from e2e_slack import CHANNEL, SECRET, USER


async def test_forged_unsigned_stale_and_tampered_requests_get_401_and_do_nothing(bot):
    command = bot.slack.command("1001", user_id=USER, channel_id=CHANNEL)
    tampered_headers = command.headers(SECRET)
    tampered = type(command)(command.body.replace(b"1001", b"1002"), command.content_type)

    answers = [
        await bot.send(command, secret="not-the-signing-secret"),  # forged
        await bot.send(command, headers={"Content-Type": command.content_type}),  # unsigned
        await bot.send(command, timestamp=int(time.time()) - 5 * 60 - 5),  # stale
        await bot.send(command, headers={**command.headers(SECRET), "X-Slack-Request-Timestamp": "yesterday"}),
        await bot.send(tampered, headers=tampered_headers),  # body changed after signing
    ]

    assert [a.status for a in answers] == [401] * 5
    await bot.idle()
    assert bot.slack.calls() == []  # not even auth.test: nothing ran
    assert bot.runs() == []


async def test_a_forged_submission_starts_nothing(bot):
    view = await bot.open_modal()
    answer = await bot.send(bot.slack.submission(view, "1001", user_id=USER), secret="forged")
    await bot.idle()
    assert answer.status == 401
    assert bot.runs() == []
    assert not bot.slack.calls("chat.postMessage")


async def test_a_request_signed_as_slack_signs_is_served(bot):
    answer = await bot.command("help")
    assert answer.status == 200


async def test_healthz_answers_once_the_database_does(bot, monkeypatch):
    async with bot.http.get(bot.url + "/healthz") as response:
        assert response.status == 200
        assert (await response.json())["ok"] is True

    def down() -> None:
        raise ConnectionError("database is down")

    monkeypatch.setattr(bot.store, "ping", down)
    async with bot.http.get(bot.url + "/healthz") as response:
        assert response.status == 503
        assert (await response.json())["ok"] is False


async def test_the_events_url_verification_challenge_is_answered(bot):
    from sandbox.slack_sim import JSON, SlackRequest

    challenge = SlackRequest(b'{"token": "t", "challenge": "c-123", "type": "url_verification"}', JSON)
    answer = await bot.send(challenge)
    assert answer.status == 200 and answer.json() == {"challenge": "c-123"}
    assert (await bot.send(challenge, secret="forged")).status == 401
