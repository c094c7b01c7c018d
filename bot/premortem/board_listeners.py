"""Bolt handlers of a pre-mortem's later phases: voting, merging risks, deciding
preventions and their follow-ups. Shares the helpers of listeners.py (the base
class); a refusal (bot.errors) is answered by the router (bot.slack.router)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from bot.errors import UserError
from bot.people.roles import lead_directory
from bot.premortem import blocks, modals, service
from bot.premortem.listeners import Ack, PremortemListeners, Respond, field_state, tell
from bot.premortem.models import Phase, PreventionStatus, Risk

log = logging.getLogger(__name__)


class BoardListeners(PremortemListeners):
    """Votes, merges, decisions and follow-ups on one pre-mortem's board."""

    # -- voting -----------------------------------------------------------------------------

    def vote(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user = body["user"]["id"]
        risk_id = int(body["actions"][0]["value"])
        with self.services.session() as session:
            premortem_id = _premortem_of_risk(session, risk_id)
        with self.poster.lock(premortem_id), self.services.session() as session:
            p = service.get_for_update(session, premortem_id, workspace_id=self._scope())
            result = service.cast_vote(session, premortem=p, risk_id=risk_id, voter_id=user)
            page = result.risk.board_page
        if not result.counted:
            tell(respond, result.message)
            return
        self._quietly(lambda: self.poster.update_board(premortem_id, {page or 0}))

    def take_back(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user = body["user"]["id"]
        premortem_id = int(body["actions"][0]["value"])
        with self.poster.lock(premortem_id), self.services.session() as session:
            p = service.get_for_update(session, premortem_id, workspace_id=self._scope())
            returned = service.take_back_votes(session, premortem=p, voter_id=user)
        tell(respond, f"{returned} vote(s) returned to you; you can vote again.")
        if returned:
            self._quietly(lambda: self.poster.update_board(premortem_id))

    def open_merge(self, ack: Ack, body: dict[str, Any], client: Any, respond: Respond) -> None:
        ack()
        user = body["user"]["id"]
        premortem_id = int(body["actions"][0]["value"])
        with self.services.session() as session:
            p = service.get(session, premortem_id, workspace_id=self._scope())
            is_lead = lead_directory(self.services).is_ld_lead(
                session, user, workspace_id=self._scope()
            )
            service.require_facilitator(p, user, is_lead=is_lead, doing="merge risks")
            risks = service.active_risks(session, p.id)
            if len(risks) < 2:
                raise UserError("there are fewer than two risks; nothing to merge")
            view = modals.merge_modal(p, risks)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def submit_merge(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        source = (field_state(view, "source").get("selected_option") or {}).get("value")
        target = (field_state(view, "target").get("selected_option") or {}).get("value")
        premortem_id = int(view["private_metadata"])
        with self.poster.lock(premortem_id), self.services.session() as session:
            p = service.get_for_update(session, premortem_id, workspace_id=self._scope())
            is_lead = lead_directory(self.services).is_ld_lead(
                session, user, workspace_id=self._scope()
            )
            service.require_facilitator(p, user, is_lead=is_lead, doing="merge risks")
            if not source or not target:
                raise UserError("pick both risks")
            service.merge(
                session, premortem=p, source_number=int(source), target_number=int(target)
            )
            phase = p.phase
        ack()
        if phase == Phase.vote:
            self._quietly(lambda: self.poster.update_board(premortem_id))
        self._quietly(
            lambda: self.poster.post_in_thread(
                premortem_id, f"Risk #{source} was merged into #{target} by the facilitator."
            )
        )

    # -- deciding ---------------------------------------------------------------------------

    def open_decision(self, ack: Ack, body: dict[str, Any], client: Any, respond: Respond) -> None:
        ack()
        user = body["user"]["id"]
        premortem_id, risk_id = (int(v) for v in body["actions"][0]["value"].split(":"))
        with self.services.session() as session:
            p = service.get(session, premortem_id, workspace_id=self._scope())
            is_lead = lead_directory(self.services).is_ld_lead(
                session, user, workspace_id=self._scope()
            )
            service.require_facilitator(p, user, is_lead=is_lead, doing="record decisions")
            if p.phase != Phase.decide:
                raise UserError("decisions are recorded in the decide phase")
            risk = service.risk_of(session, p, risk_id)
            existing = service.prevention_for(session, risk_id)
            view = modals.decision_modal(p, risk, existing=existing, today=self._now().date())
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def submit_decision(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        premortem_id, risk_id = (int(v) for v in str(view["private_metadata"]).split(":"))
        action = str(field_state(view, "action").get("value") or "")
        owner = field_state(view, "owner").get("selected_user")
        due = _parse_date(field_state(view, "due").get("selected_date"))
        errors = service.decision_errors(
            action=action, owner_id=owner, due=due, today=self._now().date()
        )
        if errors or owner is None or due is None:
            ack(response_action="errors", errors=errors)
            return
        with self.poster.lock(premortem_id), self.services.session() as session:
            p = service.get_for_update(session, premortem_id, workspace_id=self._scope())
            is_lead = lead_directory(self.services).is_ld_lead(
                session, user, workspace_id=self._scope()
            )
            service.require_facilitator(p, user, is_lead=is_lead, doing="record decisions")
            prevention = service.record_prevention(
                session,
                premortem=p,
                risk_id=risk_id,
                action=action,
                owner_id=owner,
                due=due,
                decided_by=user,
            )
            prevention_id = prevention.id
        ack()
        self.poster.plan_nudge(prevention_id)
        self._quietly(lambda: self.poster.ensure_decide(premortem_id))

    # -- follow-ups ---------------------------------------------------------------------------

    def prevention_status(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user = body["user"]["id"]
        value, _, status = body["actions"][0]["value"].partition(":")
        try:
            prevention_id, new_status = int(value), PreventionStatus(status)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        with self.services.session() as session:
            prevention = service.set_prevention_status(
                session,
                prevention_id=prevention_id,
                status=new_status,
                actor_id=user,
                is_lead=lead_directory(self.services).is_ld_lead(
                    session, user, workspace_id=self._scope()
                ),
                now=self._now(),
                workspace_id=self._scope(),
            )
            content = blocks.status_done_blocks(prevention, user)
            premortem_id = prevention.premortem_id
        respond(text=f"Marked {status}.", blocks=content, replace_original=True)
        self._quietly(lambda: self.poster.ensure_summary(premortem_id), only_if_done=premortem_id)


def _premortem_of_risk(session: Any, risk_id: int) -> int:
    risk = session.get(Risk, risk_id)
    if risk is None:
        raise UserError("that risk no longer exists")
    return int(risk.premortem_id)


def _parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
