"""Who may do what: employee, manager (of their reports), L&D lead.

L&D leads come from NUDGEBOT_LD_LEADS (user ids, or user group ids resolved
through Slack and cached briefly) and from people whose role is ld_lead in the
org import. Checks run on the server for every action, whatever the UI showed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.people.models import Person, Role
from bot.services import Services

log = logging.getLogger(__name__)
GROUP_CACHE_SECONDS = 300


class LeadDirectory:
    """Resolves NUDGEBOT_LD_LEADS, re-reading user groups every few minutes so a
    change in Slack takes effect without a restart."""

    def __init__(self, configured: list[str], client_factory: Callable[[], WebClient]) -> None:
        self._users = {i for i in configured if not i.startswith("S")}
        self._groups = [i for i in configured if i.startswith("S")]
        self._client_factory = client_factory
        self._cache: tuple[float, frozenset[str]] | None = None
        self._lock = threading.Lock()

    def configured_leads(self) -> frozenset[str]:
        if not self._groups:
            return frozenset(self._users)
        with self._lock:
            if self._cache and time.monotonic() - self._cache[0] < GROUP_CACHE_SECONDS:
                return self._cache[1]
            members = set(self._users)
            client = self._client_factory()
            for group in self._groups:
                try:
                    members.update(client.usergroups_users_list(usergroup=group).get("users", []))
                except SlackApiError as exc:
                    log.warning("cannot read user group %s: %s", group, exc.response.get("error"))
            self._cache = (time.monotonic(), frozenset(members))
            return self._cache[1]

    def is_ld_lead(
        self, session: Session, user_id: str, *, workspace_id: str | None = None
    ) -> bool:
        """NUDGEBOT_LD_LEADS, or the ld_lead role in the directory.

        `workspace_id` (OAuth mode: the request's team) limits the answer to that
        workspace: only a person of its directory can be its lead, so a lead of one
        workspace is nobody in another even under the same Slack user id. There a
        user id listed in NUDGEBOT_LD_LEADS counts for the workspaces that person is
        in; user groups are not resolved (they need one workspace's token).
        None (single mode) looks at the one directory as a whole."""
        if workspace_id is None:
            if user_id in self.configured_leads():
                return True
            role = session.scalar(select(Person.role).where(Person.slack_user_id == user_id))
            return role == Role.ld_lead
        role = session.scalar(
            select(Person.role).where(
                Person.slack_user_id == user_id,
                Person.workspace_id == workspace_id,
                Person.is_deleted.is_(False),
            )
        )
        if role is None:
            return False
        return role == Role.ld_lead or user_id in self._users


def lead_directory(services: Services) -> LeadDirectory:
    """This process's LeadDirectory (one per Services, so its user-group cache is shared)."""
    found = services.extensions.get("lead_directory")
    if not isinstance(found, LeadDirectory):
        found = LeadDirectory(services.settings.ld_leads, lambda: services.client)
        services.extensions["lead_directory"] = found
    return found


def is_manager_of(
    session: Session, manager_id: str, person_id: str, *, workspace_id: str | None = None
) -> bool:
    """Whether `person_id` reports to `manager_id` (in `workspace_id`, when given)."""
    query = select(Person.manager_slack_user_id).where(Person.slack_user_id == person_id)
    if workspace_id is not None:
        query = query.where(Person.workspace_id == workspace_id)
    return manager_id in set(session.scalars(query))
