"""What Slack sends to an app: signed HTTP requests carrying slash commands, interactivity and events.

``sign`` gives the two headers Slack signs every request with, exactly as Slack computes them
(``v0=`` HMAC-SHA256 of ``v0:<timestamp>:<body>`` keyed by the signing secret). The builders give
the body of each request as Slack posts it to the app's request URL: ``slash_command`` (form
fields), ``view_submission`` and ``block_actions`` (form-encoded ``payload=<json>``) and
``event_callback`` (JSON). ``SlackRequest.payload`` is the same body decoded, as a Socket Mode
envelope carries it.

``AppRequests`` (part of ``SlackSimulator``) builds them from the workspace: a fresh trigger_id and
response_url for each, the buttons of a posted message, the elements of a published Home tab.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from sandbox.slack_workspace import APP_ID, BOT_USER_ID, TEAM_ID, SlackWorkspace

LEGACY_TOKEN = "sandbox-verification-token"  # the deprecated verification token Slack still sends


# --- signing: what Slack puts on every HTTP request ---------------------------------------------

def sign(body: bytes | str, secret: str, timestamp: int | str | None = None) -> dict[str, str]:
    """The two headers Slack signs a request with (``slack_sdk.signature.SignatureVerifier`` checks them)."""
    raw = body.encode() if isinstance(body, str) else body
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class SlackRequest:
    """A request as Slack would POST it to the app's request URL."""

    body: bytes
    content_type: str

    def headers(self, secret: str, timestamp: int | str | None = None) -> dict[str, str]:
        return {"Content-Type": self.content_type, **sign(self.body, secret, timestamp)}

    @property
    def payload(self) -> dict[str, Any]:
        """The decoded body (form fields, the ``payload`` JSON of interactivity, or the event JSON)."""
        if self.content_type == JSON:
            return json.loads(self.body)
        fields = dict(urllib.parse.parse_qsl(self.body.decode()))
        return json.loads(fields["payload"]) if "payload" in fields else fields


def form_body(fields: dict[str, Any]) -> SlackRequest:
    return SlackRequest(urllib.parse.urlencode({k: v for k, v in fields.items() if v is not None}).encode(), FORM)


def payload_body(payload: dict[str, Any]) -> SlackRequest:
    """Interactivity (view_submission, block_actions…): form-encoded ``payload=<json>``."""
    return SlackRequest(urllib.parse.urlencode({"payload": json.dumps(payload)}).encode(), FORM)


def slash_command(text: str = "", *, user_id: str, channel_id: str, trigger_id: str, response_url: str,
                  command: str = "/salla-sync", team_id: str = TEAM_ID, channel_name: str = "general",
                  user_name: str | None = None) -> SlackRequest:
    return form_body({
        "token": LEGACY_TOKEN, "team_id": team_id, "team_domain": "sandbox", "channel_id": channel_id,
        "channel_name": channel_name, "user_id": user_id, "user_name": user_name or user_id.lower(),
        "command": command, "text": text, "api_app_id": APP_ID, "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": trigger_id,
    })


def _user(user_id: str, team_id: str = TEAM_ID) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def view_submission(view: dict[str, Any], values: dict[str, dict[str, Any]], *, user_id: str, trigger_id: str,
                    team_id: str = TEAM_ID) -> SlackRequest:
    """``values``: {block_id: {action_id: value-or-state-dict}}; a plain string is a plain_text_input."""
    state = {
        block: {action: (value if isinstance(value, dict) else {"type": "plain_text_input", "value": value})
                for action, value in actions.items()}
        for block, actions in values.items()
    }
    submitted = {**view, "state": {"values": state}}
    return payload_body({
        "type": "view_submission", "team": {"id": team_id, "domain": "sandbox"}, "user": _user(user_id, team_id),
        "api_app_id": APP_ID, "token": LEGACY_TOKEN, "trigger_id": trigger_id, "view": submitted,
        "response_urls": [], "is_enterprise_install": False, "enterprise": None,
    })


def view_closed(view: dict[str, Any], *, user_id: str, team_id: str = TEAM_ID) -> SlackRequest:
    """What Slack sends when someone closes (cancels) a view that set ``notify_on_close``."""
    return payload_body({
        "type": "view_closed", "team": {"id": team_id, "domain": "sandbox"}, "user": _user(user_id, team_id),
        "api_app_id": APP_ID, "token": LEGACY_TOKEN, "view": view, "is_cleared": False,
        "is_enterprise_install": False, "enterprise": None,
    })


def block_actions(action: dict[str, Any], *, user_id: str, trigger_id: str, container: dict[str, Any],
                  channel_id: str | None = None, message: dict[str, Any] | None = None,
                  view: dict[str, Any] | None = None, response_url: str | None = None,
                  team_id: str = TEAM_ID) -> SlackRequest:
    payload: dict[str, Any] = {
        "type": "block_actions", "user": _user(user_id, team_id), "api_app_id": APP_ID, "token": LEGACY_TOKEN,
        "container": container, "trigger_id": trigger_id, "team": {"id": team_id, "domain": "sandbox"},
        "enterprise": None, "is_enterprise_install": False, "state": {"values": {}},
        "actions": [{**action, "action_ts": f"{time.time():.6f}"}],
    }
    if channel_id:
        payload["channel"] = {"id": channel_id, "name": "general"}
    if message is not None:
        payload["message"] = message
    if view is not None:
        payload["view"] = view
    if response_url:
        payload["response_url"] = response_url
    return payload_body(payload)


def event_callback(event: dict[str, Any], *, team_id: str = TEAM_ID) -> SlackRequest:
    body = {
        "token": LEGACY_TOKEN, "team_id": team_id, "api_app_id": APP_ID, "event": event, "type": "event_callback",
        "event_id": f"Ev{int(time.time() * 1000)}", "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": BOT_USER_ID, "is_bot": True,
                            "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }
    return SlackRequest(json.dumps(body).encode(), JSON)


# --- from the simulator: fresh ids, posted messages, published Home tabs -------------------------

class AppRequests(SlackWorkspace):
    """Requests as Slack would send them to the app, built from what the workspace holds and hands out."""

    def command(self, text: str = "", *, user_id: str, channel_id: str, command: str = "/salla-sync") -> SlackRequest:
        """A slash command, with a fresh trigger_id and response_url."""
        return slash_command(text, user_id=user_id, channel_id=channel_id, trigger_id=self.new_trigger_id(),
                             response_url=self.new_response_url(channel_id, user_id), command=command)

    def submission(self, view: dict[str, Any], text: str | None = None, *, user_id: str,
                   values: dict[str, dict[str, Any]] | None = None) -> SlackRequest:
        """The view_submission of an opened ``view``: ``text`` goes into its first input block."""
        if values is None:
            values = {}
            for block in view.get("blocks", []):
                if block.get("type") == "input":
                    values[block["block_id"]] = {block["element"]["action_id"]: text}
                    break
        return view_submission(view, values, user_id=user_id, trigger_id=self.new_trigger_id())

    def closing(self, view: dict[str, Any], *, user_id: str) -> SlackRequest:
        """Cancel pressed on an opened ``view`` (Slack sends this only when the view asked for it)."""
        return view_closed(view, user_id=user_id)

    def user_message(self, channel: str, text: str, *, user_id: str) -> str:
        """A message a person posted in ``channel`` (not the bot); its ts."""
        with self._lock:
            message = self._store_message(channel, text, None, None)
            message.user = user_id
            return message.ts

    def message_shortcut(self, channel: str, ts: str, callback_id: str, *, user_id: str) -> SlackRequest:
        """A message shortcut used on the message ``ts`` of ``channel`` (``message_action``)."""
        message = self.message(channel, ts)
        body = message.to_json()
        if message.user != BOT_USER_ID:
            body.pop("bot_id", None)
        return payload_body({
            "type": "message_action", "token": LEGACY_TOKEN, "action_ts": f"{time.time():.6f}",
            "team": {"id": TEAM_ID, "domain": "sandbox"}, "user": _user(user_id), "channel": {"id": channel, "name": "general"},
            "is_enterprise_install": False, "enterprise": None, "callback_id": callback_id,
            "trigger_id": self.new_trigger_id(), "response_url": self.new_response_url(channel, user_id),
            "message_ts": ts, "message": body,
        })

    def click(self, channel: str, ts: str, action_id: str, *, user_id: str) -> SlackRequest:
        """Clicking the button ``action_id`` on a message as it is now (LookupError when it has none)."""
        message = self.message(channel, ts)
        for block in message.blocks or []:
            for element in block.get("elements") or []:
                if element.get("type") == "button" and element.get("action_id") == action_id:
                    action = {"type": "button", "action_id": action_id, "block_id": block.get("block_id", ""),
                              "text": element.get("text"), "value": element.get("value", "")}
                    container = {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False}
                    if message.thread_ts:
                        container["thread_ts"] = message.thread_ts
                    return block_actions(action, user_id=user_id, trigger_id=self.new_trigger_id(),
                                         container=container, channel_id=channel, message=message.to_json(),
                                         response_url=self.new_response_url(channel, user_id))
        raise LookupError(f"message {ts} in {channel} has no button {action_id!r}")

    def home_action(self, user_id: str, action_id: str, *, selected: str | None = None,
                    dates: dict[str, str] | None = None) -> SlackRequest:
        """Using an element of ``user_id``'s published Home tab: a button, or a select (a user select,
        a date picker) with ``selected``.
        ``dates``: {action_id: "YYYY-MM-DD"} picked in its date pickers first (else their initial
        dates), sent in the view's state as Slack sends it."""
        view = self.home(user_id)
        if view is None:
            raise LookupError(f"no Home tab published for {user_id}")
        state: dict[str, dict[str, Any]] = {}
        for block in view.get("blocks", []):
            for element in block.get("elements") or []:
                if element.get("type") == "datepicker":
                    picked = (dates or {}).get(element["action_id"], element.get("initial_date"))
                    state.setdefault(block.get("block_id", ""), {})[element["action_id"]] = {
                        "type": "datepicker", "selected_date": picked}
        view = {**view, "state": {"values": state}}
        for block in view.get("blocks", []):
            for element in block.get("elements") or []:
                if element.get("action_id") != action_id:
                    continue
                action: dict[str, Any] = {"type": element["type"], "action_id": action_id,
                                          "block_id": block.get("block_id", "")}
                if element["type"] == "button":
                    action.update(text=element.get("text"), value=element.get("value", ""))
                elif element["type"] == "datepicker":
                    picked = (dates or {}).get(action_id, selected)
                    action["selected_date"] = picked or state[block.get("block_id", "")][action_id]["selected_date"]
                elif element["type"] == "users_select":
                    action["selected_user"] = selected
                else:
                    option = next((o for o in element.get("options", []) if o.get("value") == selected), None)
                    if option is None:
                        raise LookupError(f"{action_id} has no option {selected!r}")
                    action["selected_option"] = option
                container = {"type": "view", "view_id": view["id"]}
                return block_actions(action, user_id=user_id, trigger_id=self.new_trigger_id(),
                                     container=container, view=view)
        raise LookupError(f"the Home tab of {user_id} has no element {action_id!r}")

    def home_opened(self, user_id: str) -> SlackRequest:
        event: dict[str, Any] = {"type": "app_home_opened", "user": user_id, "channel": self.dm_channel_of(user_id),
                                 "tab": "home", "event_ts": f"{time.time():.6f}"}
        view = self.home(user_id)
        if view is not None:
            event["view"] = view
        return event_callback(event)

