"""Nudgebot's whole surface in one place: every slash command, button, modal,
Workflow Builder step and event Slack sends, every webhook, and every periodic
tick, with what handles it.

"What happens when someone clicks Done?" or "what runs every minute?" is one
search in this file. bot/app.py mounts `slack_routes` on the Bolt App
(bot.slack.router: one listener per route, events of one type fanned out to
their handlers in the order listed, person-facing errors answered in one
place) and hands `ticks` and `hooks` to the scheduler and the web server.
Slices keep Bolt handlers in listeners.py and periodic work in jobs.py; none
registers itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from slack_sdk.oauth.installation_store import InstallationStore

from bot.calendars import blocks as calendar_blocks
from bot.calendars import listeners as calendars
from bot.delivery import hooks as delivery_hooks
from bot.delivery import listeners as delivery
from bot.delivery.jobs import PLAN_SECONDS, REAP_SECONDS, SEND_SECONDS, DeliveryJobs
from bot.digest import blocks as digest_blocks
from bot.digest import hooks as digest_hooks
from bot.digest import jobs as digest_jobs
from bot.digest import listeners as digest
from bot.governance import jobs as governance_jobs
from bot.intake import blocks as intake_blocks
from bot.intake import jobs as intake_jobs
from bot.intake import listeners as intake
from bot.people.listeners import PeopleListeners
from bot.premortem import blocks as premortem_blocks
from bot.premortem import jobs as premortem_jobs
from bot.premortem import listeners as premortem
from bot.premortem import modals as premortem_modals
from bot.premortem.board_listeners import BoardListeners
from bot.premortem.posting import Poster
from bot.proof import blocks as proof_blocks
from bot.proof import home_blocks as proof_home_blocks
from bot.proof import home_listeners
from bot.proof import jobs as proof_jobs
from bot.proof import listeners as proof
from bot.services import HookHandler, Services, Tick
from bot.slack import dedupe
from bot.slack.router import (
    Route,
    action,
    command,
    event,
    function,
    view_closed,
    view_submission,
    when,
)
from bot.workflows import listeners as workflows
from bot.workflows import service as workflow_steps

FORGET_SEEN_SECONDS = 600
CALENDAR_POLL_SECONDS = 60  # each feed has its own next read; the tick reads those due


@dataclass(frozen=True)
class Surface:
    slack_routes: tuple[Route, ...]
    ticks: tuple[Tick, ...]
    hooks: dict[str, HookHandler]


def surface(services: Services, *, store: InstallationStore | None) -> Surface:
    """Everything Nudgebot answers, for one process. `store`: the OAuth installation
    store (None with a single workspace)."""
    answers = proof.AnswerListeners(services)
    home = home_listeners.HomeListeners(services)
    people = PeopleListeners(services)
    forms = intake.IntakeListeners(services)
    poster = Poster(services)  # one per process: its locks serialise a pre-mortem's writers
    pm = premortem.PremortemListeners(services, poster)
    board = BoardListeners(services, poster)
    digests = digest.DigestListeners(services)
    uninstall = delivery.UninstallListeners(services, store)
    jobs = DeliveryJobs(services)
    trigger = delivery.trigger_listener
    steps = workflows.WorkflowListeners(services)
    calendar = calendars.CalendarListeners(services, home_changed=home.publish_home)

    slack_routes = (
        # -- slash commands ----------------------------------------------------------------
        command(
            "/nudges",
            home.command,
            verbs={
                "digest": digests.nudges_digest,
                "workflow-key": steps.key_command,
                "calendar": calendar.nudges_calendar,
            },
            explain=home_listeners.nothing_changed,
        ),
        command("/intake", forms.command),
        command("/premortem", pm.command, explain=premortem.with_help),
        # -- a nudge's answers (proof) -----------------------------------------------------
        *(
            action(action_id, answers.answer_click, explain=proof.nothing_changed)
            for action_id in proof.ANSWER_ACTIONS  # Done, Not relevant, Snooze, checklist
        ),
        action(proof.RATE_ACTION, answers.answer_click, explain=proof.nothing_changed),
        action("nudge_reflect", answers.reflect_click, explain=proof.nothing_changed),
        action("nudge_link", answers.link_click),
        view_submission(
            proof_blocks.NOT_RELEVANT_CALLBACK,
            answers.submit_reason,
            error_block="reason",
            explain=proof.not_saved,
        ),
        view_submission(
            proof_blocks.REFLECTION_CALLBACK,
            answers.submit_reflection,
            error_block="answer",
            explain=proof.not_saved,
        ),
        # -- App Home (proof, digest) --------------------------------------------------------
        action(proof_home_blocks.RESUME_ACTION, home.resume_click),
        action(proof_home_blocks.PAUSE_ACTION, home.pause_click),
        action(proof_home_blocks.PREFERENCES_ACTION, home.preferences_click),
        view_submission(proof_home_blocks.PREFERENCES_CALLBACK, home.submit_preferences),
        action(re.compile(f"^{proof_home_blocks.PAGE_ACTION}_(prev|next)$"), home.page_click),
        action(proof_home_blocks.ENROLL_ACTION, home.enroll_click),
        view_submission(proof_home_blocks.ENROLL_CALLBACK, home.submit_enroll),
        # -- calendar connections: App Home, the connect modal, a broken feed's DM -------------
        action(calendar_blocks.CONNECT_ACTION, calendar.connect_click),
        action(calendar_blocks.RECONNECT_ACTION, calendar.connect_click),
        action(calendar_blocks.DISCONNECT_ACTION, calendar.disconnect_click),
        view_submission(
            calendar_blocks.CONNECT_CALLBACK,
            calendar.submit_connect,
            error_block=calendar_blocks.ADDRESS_BLOCK,
        ),
        action(digest_blocks.SHARE_ACTION, digests.share),
        action(digest_blocks.OPT_IN_ACTION, digests.opt_in),
        action(digest_blocks.IMPACT_ACTION, digests.impact),
        # -- /intake: the form, triage, the requester's answer -------------------------------
        view_submission(
            intake_blocks.FORM_CALLBACK,
            forms.submit_form,
            error_block="goal",
            explain=intake.form_refused,
        ),
        view_closed(intake_blocks.FORM_CALLBACK, forms.close_form),
        view_submission(
            intake_blocks.NOTE_CALLBACK, forms.submit_note, explain=intake.nothing_changed
        ),
        *(
            action(action_id, forms.triage_click, explain=intake.nothing_changed)
            for action_id in intake.CLICKS  # claim, approve, decline, needs info
        ),
        action("intake_answer", forms.answer_click),
        # -- /premortem: the parent's buttons, votes, decisions, follow-ups -----------------
        action(premortem_blocks.ADD_ANON, pm.add_anonymous),
        view_submission(premortem_modals.ANON_VIEW, pm.submit_anonymous, error_block="risk"),
        action(premortem_blocks.NEXT_PHASE, pm.next_phase),
        action(premortem_blocks.PUBLISH, pm.next_phase),
        action(premortem_blocks.TAKE_OVER, pm.take_over),
        action(premortem_blocks.VOTE, board.vote),
        action(premortem_blocks.TAKE_BACK, board.take_back),
        action(premortem_blocks.MERGE, board.open_merge),
        view_submission(premortem_modals.MERGE_VIEW, board.submit_merge, error_block="target"),
        action(premortem_blocks.DECIDE, board.open_decision),
        view_submission(premortem_modals.DECIDE_VIEW, board.submit_decision, error_block="action"),
        action(re.compile(f"^{premortem_blocks.PREVENTION_STATUS}_"), board.prevention_status),
        # -- Workflow Builder steps (functions of config/manifest.yml) ------------------------
        function(workflow_steps.SEND_STEP, steps.send_nudge),
        function(workflow_steps.ENROLL_STEP, steps.enroll),
        # -- events (every handler of a type, in order) --------------------------------------
        event(
            "message",
            trigger(services, delivery.message),
            when(pm.is_premortem_thread, pm.message),  # replies in a pre-mortem thread
        ),
        event("app_home_opened", trigger(services, delivery.home), home.home_opened),
        event("reaction_added", trigger(services, delivery.reaction)),
        event("member_joined_channel", trigger(services, delivery.joined)),
        event("user_change", home.user_change),  # the directory, then the Slack status
        event("team_join", people.on_user),
        event("app_uninstalled", uninstall.app_uninstalled),
        event("tokens_revoked", uninstall.tokens_revoked),
    )

    ticks = (
        Tick("delivery-plan", jobs.plan, PLAN_SECONDS),
        Tick("delivery-send", jobs.send, SEND_SECONDS),
        Tick("delivery-reap", jobs.reap, REAP_SECONDS),
        Tick("proof-upkeep", lambda: proof_jobs.upkeep(services), proof_jobs.UPKEEP_SECONDS),
        Tick(
            "intake-repost-triage",
            lambda: intake_jobs.repost_unposted(services),
            intake_jobs.REPOST_SECONDS,
        ),
        Tick(
            "premortem-phases",
            lambda: premortem_jobs.tick_phases(poster),
            premortem_jobs.PHASES_SECONDS,
        ),
        Tick("digests", lambda: digest_jobs.send_due_digests(services), digest_jobs.TICK_SECONDS),
        Tick(
            "retention",
            lambda: governance_jobs.run_retention(services),
            governance_jobs.RETENTION_TICK_SECONDS,
        ),
        Tick("forget-seen-events", lambda: dedupe.forget_seen(services), FORGET_SEEN_SECONDS),
        Tick("calendar-poll", lambda: calendars.poll_tick(services), CALENDAR_POLL_SECONDS),
    )

    hooks: dict[str, HookHandler] = {
        "trigger": lambda body, headers: delivery_hooks.trigger_hook(services, body, headers),
        "metric": lambda body, headers: digest_hooks.metric_hook(services, body, headers),
    }
    return Surface(slack_routes=slack_routes, ticks=ticks, hooks=hooks)
