"""Reading people from Slack for the command line: users, user groups, channel members.

The only Slack calls of the people feature (listeners get the user in the event).
Errors become one line a person can act on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import UserError

PAGE = 200


def _pages(call: Any, key: str, **params: Any) -> Iterator[Any]:
    """Every item under `key` of every page: iterating a SlackResponse asks Slack for
    the next page with its cursor (slack_sdk's pagination)."""
    try:
        for page in call(limit=PAGE, **params):
            yield from page.get(key) or []
    except SlackApiError as exc:
        raise UserError(f"Slack refused: {exc.response.get('error', 'unknown error')}") from None


def slack_users(client: WebClient) -> Iterator[dict[str, Any]]:
    """Every user of the workspace, page by page (users.list with locales)."""
    yield from _pages(client.users_list, "members", include_locale=True)


def slack_user(client: WebClient, user_id: str) -> dict[str, Any] | None:
    try:
        response = client.users_info(user=user_id, include_locale=True)
    except SlackApiError as exc:
        if exc.response.get("error") == "user_not_found":
            return None
        raise UserError(f"Slack refused users.info: {exc.response.get('error')}") from None
    user = response.get("user")
    return dict(user) if isinstance(user, dict) else None


def usergroup_members(client: WebClient, usergroup_id: str) -> list[str]:
    try:
        response = client.usergroups_users_list(usergroup=usergroup_id)
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown error")
        raise UserError(f"cannot read user group {usergroup_id}: {error}") from None
    return list(response.get("users") or [])


def channel_members(client: WebClient, channel_id: str) -> list[str]:
    try:
        return list(_pages(client.conversations_members, "members", channel=channel_id))
    except UserError as exc:
        raise UserError(f"cannot read the members of {channel_id}: {exc}") from None
