"""Slack I/O of pre-mortems: the parent, the board, the decide message, the summary, DMs.

Every method reads what it needs in a short session, calls Slack outside it and stores
the message ts right after, so a retry never posts a page twice. When the bot has lost
the channel (removed, archived) the pre-mortem keeps its state, the facilitator is told
once, and the phase tick tries again until the bot is back.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.log import log_context
from bot.people.service import find_person
from bot.premortem import blocks, followups, service
from bot.premortem.models import Phase, Premortem, Prevention
from bot.services import Services
from bot.slack import install

log = logging.getLogger(__name__)

# Errors that mean "the bot cannot post in this channel until a person acts".
CHANNEL_GONE = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


def slack_error(exc: SlackApiError) -> str:
    response = getattr(exc, "response", None)
    try:
        return str(response.get("error") or "unknown_error") if response is not None else "error"
    except AttributeError:
        return "unknown_error"


class Poster:
    """One per process; its locks keep concurrent clicks from writing stale tallies."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._locks: defaultdict[int, threading.RLock] = defaultdict(threading.RLock)
        self._locks_guard = threading.Lock()

    def lock(self, premortem_id: int) -> threading.RLock:
        """Serialises one pre-mortem's writes in this process (SQLite has no row locks)."""
        with self._locks_guard:
            return self._locks[premortem_id]

    @property
    def client(self) -> Any:
        # The bot client of the workspace being served (OAuth mode: set per request,
        # and per pre-mortem by tick_phases); the one bot client in single mode.
        return install.current_client(self.services)

    # -- the parent message --------------------------------------------------------------

    def refresh_parent(self, premortem_id: int) -> None:
        with self.services.session() as session:
            p = service.get(session, premortem_id)
            if p.parent_ts is None:
                return
            count = len(service.active_risks(session, p.id))
            content = blocks.parent_blocks(p, risk_count=count)
            channel, ts, text = p.channel_id, p.parent_ts, blocks.parent_text(p)
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=content)

    def post_parent(self, premortem_id: int) -> str:
        with self.services.session() as session:
            p = service.get(session, premortem_id)
            content = blocks.parent_blocks(p, risk_count=0)
            channel, text = p.channel_id, blocks.parent_text(p)
        response = self.client.chat_postMessage(channel=channel, text=text, blocks=content)
        ts = str(response["ts"])
        with self.services.session() as session:
            service.get(session, premortem_id).parent_ts = ts
        return ts

    def post_in_thread(self, premortem_id: int, text: str) -> None:
        with self.services.session() as session:
            p = service.get(session, premortem_id)
            channel, thread = p.channel_id, p.parent_ts
        self.client.chat_postMessage(channel=channel, thread_ts=thread, text=text)

    # -- the vote board ------------------------------------------------------------------

    def _page_content(self, premortem_id: int, page: int) -> tuple[Premortem, list[Any], int]:
        with self.services.session() as session:
            p = service.get(session, premortem_id)
            risks = service.active_risks(session, p.id)
            pages = blocks.page_count(risks)
            on_page = [r for r in risks if r.board_page == page]
            content = blocks.board_blocks(
                p, page=page, pages=pages, risks=on_page, counts=service.tallies(session, p.id)
            )
            return p, content, pages

    def ensure_board(self, premortem_id: int) -> None:
        """Post the missing board pages (all of them the first time), in page order."""
        with self.lock(premortem_id):
            p, _, pages = self._page_content(premortem_id, 0)
            for page in range(len(p.board_ts), pages):
                _, content, _ = self._page_content(premortem_id, page)
                response = self.client.chat_postMessage(
                    channel=p.channel_id,
                    thread_ts=p.parent_ts,
                    text=blocks.board_text(p, page),
                    blocks=content,
                )
                with self.services.session() as session:
                    stored = service.get(session, premortem_id)
                    stored.board_ts = [*stored.board_ts, str(response["ts"])]

    def update_board(self, premortem_id: int, pages: set[int] | None = None) -> None:
        """Rewrite board pages in place (the tally, or closed buttons after voting)."""
        with self.lock(premortem_id):
            with self.services.session() as session:
                p = service.get(session, premortem_id)
                board = list(p.board_ts)
                channel = p.channel_id
            for page, ts in enumerate(board):
                if pages is not None and page not in pages:
                    continue
                p, content, _ = self._page_content(premortem_id, page)
                self.client.chat_update(
                    channel=channel, ts=ts, text=blocks.board_text(p, page), blocks=content
                )

    # -- deciding and the summary ------------------------------------------------------------

    def _decide_content(self, premortem_id: int) -> tuple[Premortem, list[Any]]:
        with self.services.session() as session:
            p = service.get(session, premortem_id)
            top = service.top_risks(session, p)
            decided = {d.risk_id: d for d in service.preventions(session, p.id)}
            return p, blocks.decide_blocks(p, top=top, decided=decided)

    def ensure_decide(self, premortem_id: int) -> None:
        p, content = self._decide_content(premortem_id)
        text = f"Decide preventions for {p.initiative}"
        if p.decide_ts:
            self.client.chat_update(channel=p.channel_id, ts=p.decide_ts, text=text, blocks=content)
            return
        response = self.client.chat_postMessage(
            channel=p.channel_id, thread_ts=p.parent_ts, text=text, blocks=content
        )
        with self.services.session() as session:
            service.get(session, premortem_id).decide_ts = str(response["ts"])

    def _summary_content(self, premortem_id: int) -> tuple[Premortem, list[Any]]:
        with self.services.session() as session:
            p = service.get(session, premortem_id)
            ranked = service.ranked_risks(session, p.id)
            late = [r for r in service.active_risks(session, p.id, include_late=True) if r.late]
            content = blocks.summary_blocks(
                p, ranked=ranked, decided=service.preventions(session, p.id), late=len(late)
            )
            return p, content

    def ensure_summary(self, premortem_id: int) -> None:
        """Post the summary to the channel (not the thread) and pin it; pinning is a bonus."""
        p, content = self._summary_content(premortem_id)
        text = f"Pre-mortem summary: {p.initiative}"
        if p.summary_ts:
            self.client.chat_update(
                channel=p.channel_id, ts=p.summary_ts, text=text, blocks=content
            )
            return
        response = self.client.chat_postMessage(channel=p.channel_id, text=text, blocks=content)
        ts = str(response["ts"])
        with self.services.session() as session:
            service.get(session, premortem_id).summary_ts = ts
        try:
            self.client.pins_add(channel=p.channel_id, timestamp=ts)
        except SlackApiError as exc:
            log.info("summary posted but not pinned: %s", slack_error(exc))

    # -- phases ------------------------------------------------------------------------

    def sync(self, premortem_id: int) -> bool:
        """Make Slack show the current phase. False when the channel is out of reach."""
        # One sync per pre-mortem at a time: two quick clicks must not post a message twice.
        with log_context(premortem_id=premortem_id), self.lock(premortem_id):
            try:
                self._sync(premortem_id)
            except SlackApiError as exc:
                self._channel_failed(premortem_id, slack_error(exc))
                return False
            with self.services.session() as session:
                service.get(session, premortem_id).channel_problem = None
            return True

    def _sync(self, premortem_id: int) -> None:
        with self.services.session() as session:
            p = service.get(session, premortem_id)
            phase, has_parent = p.phase, p.parent_ts is not None
        if not has_parent:
            self.post_parent(premortem_id)
        if phase != Phase.collect:
            self.ensure_board(premortem_id)
            if phase != Phase.vote:
                self.update_board(premortem_id)
                self.ensure_decide(premortem_id)
        if phase == Phase.done:
            self.ensure_summary(premortem_id)
            self.plan_review(premortem_id)
        self.refresh_parent(premortem_id)

    def _channel_failed(self, premortem_id: int, error: str) -> None:
        with self.services.session() as session:
            p = service.get(session, premortem_id)
            first = p.channel_problem is None
            p.channel_problem = error
            facilitator, channel, pid = p.facilitator_id, p.channel_id, p.id
        log.warning("pre-mortem cannot post to its channel: %s", error)
        if not first:
            return
        hint = (
            "Invite me back with `/invite @Nudgebot` in that channel"
            if error in CHANNEL_GONE
            else "I will keep trying"
        )
        self.dm(
            facilitator,
            f"I could not post pre-mortem {pid} in <#{channel}> ({error}). {hint}; nothing is "
            "lost: the risks, votes and decisions are saved and I will post as soon as I can. "
            f"An L&D lead can also export it with `nudgebot premortem export {pid}`.",
        )

    def tick_phases(self) -> None:
        """Deadlines move pre-mortems on; channels that failed are tried again."""
        now = self.services.clock.now()
        with self.services.session() as session:
            due = service.due_for_advance(session, now=now)
            retry = service.needing_repost(session)
        for premortem_id in due:
            with self.lock(premortem_id), self.services.session() as session:
                p = service.get_for_update(session, premortem_id)
                if p.phase_deadline is None or p.phase_deadline > now:
                    continue  # another replica or the facilitator moved it first
                service.advance(session, premortem=p, settings=self.services.settings, now=now)
            self._sync_in_its_workspace(premortem_id)
        for premortem_id in retry:
            if premortem_id not in due:
                self._sync_in_its_workspace(premortem_id)

    def _sync_in_its_workspace(self, premortem_id: int) -> None:
        """sync() outside a request: posts with the pre-mortem's own workspace's token."""
        with self.services.session() as session:
            workspace = service.get(session, premortem_id).workspace_id
        with install.in_workspace(workspace or None):
            self.sync(premortem_id)

    # -- follow-ups: planned into the delivery outbox; its sender posts them ------------

    def _slack_user(self, user_id: str, workspace_id: str) -> dict[str, Any] | None:
        """The Slack profile (time zone, locale) of someone not yet in the directory."""
        with self.services.session() as session:
            if find_person(session, user_id, workspace_id=workspace_id or None) is not None:
                return None
        try:
            user = self.client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            log.info("users.info failed: %s", slack_error(exc))
            return None
        return dict(user) if isinstance(user, dict) else None

    def plan_nudge(self, prevention_id: int) -> None:
        """Plan (or re-plan: new owner, new date) the owner's reminder."""
        with self.services.session() as session:
            found = session.get(Prevention, prevention_id)
            if found is None or not found.owner_id:
                return
            owner_id = found.owner_id
            workspace = service.get(session, found.premortem_id).workspace_id
        slack_user = self._slack_user(owner_id, workspace)
        with self.services.session() as session:
            prevention = session.get(Prevention, prevention_id)
            if prevention is None or prevention.owner_id != owner_id:
                return  # changed meanwhile; that change plans its own reminder
            person = followups.recipient(
                session, user_id=owner_id, slack_user=slack_user, workspace_id=workspace
            )
            service.plan_owner_nudge(
                session,
                prevention=prevention,
                person=person,
                settings=self.services.settings,
                now=self.services.clock.now(),
            )

    def plan_review(self, premortem_id: int) -> None:
        with self.services.session() as session:
            p = service.get(session, premortem_id)
            if p.review_at is not None or not p.facilitator_id:
                return
            facilitator, workspace = p.facilitator_id, p.workspace_id
        slack_user = self._slack_user(facilitator, workspace)
        with self.services.session() as session:
            p = service.get(session, premortem_id)
            if p.review_at is not None:
                return  # another replica planned it meanwhile
            person = followups.recipient(
                session, user_id=facilitator, slack_user=slack_user, workspace_id=p.workspace_id
            )
            service.plan_review(
                session,
                premortem=p,
                person=person,
                settings=self.services.settings,
                now=self.services.clock.now(),
            )

    def dm(self, user_id: str, text: str) -> None:
        try:
            self.client.chat_postMessage(channel=user_id, text=text)
        except SlackApiError as exc:
            log.warning("DM not sent: %s", slack_error(exc))
