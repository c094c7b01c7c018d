"""Pre-mortem rules: the slice's entry. Plain functions over a Session; no Slack calls
here (listeners and posting.py do those). Permission checks live in these modules too,
so every entry point (button, modal, CLI) runs them.

The rules live in one module per seam; this module names them all, so callers write
`service.cast_vote` whichever module holds it:

- `command.py`: the command and its templates
- `threads.py`: the thread, its risks, who runs it
- `phases.py`: phases
- `votes.py`: votes, ranking, merges
- `decisions.py`: preventions
- `planning.py`: follow-ups in the delivery outbox
- `export.py`: records and export
"""

from __future__ import annotations

from bot.premortem.command import (
    MAX_INITIATIVE_CHARS,
    MAX_RISK_CHARS,
    PAGE_SIZE,
    Command,
    StartRequest,
    Template,
    add_months,
    parse_command,
)
from bot.premortem.decisions import (
    MAX_ACTION_CHARS,
    decision_errors,
    prevention_for,
    preventions,
    record_prevention,
    risk_of,
    set_prevention_status,
)
from bot.premortem.export import (
    export_markdown,
    list_premortems,
)
from bot.premortem.phases import (
    advance,
    due_for_advance,
    needing_repost,
)
from bot.premortem.planning import (
    REVIEW_ABOUT,
    cancel_followups,
    followup_due_at,
    followups,
    next_allowed,
    plan_owner_nudge,
    plan_review,
    window_end,
    working_days_before,
)
from bot.premortem.threads import (
    active_risks,
    add_anonymous_risk,
    add_thread_risk,
    clean_risk_text,
    delete_thread_risk,
    edit_thread_risk,
    find_by_thread,
    get,
    get_for_update,
    is_facilitator,
    require_facilitator,
    risk_by_number,
    start,
    take_over,
)
from bot.premortem.votes import (
    RankedRisk,
    VoteResult,
    cast_vote,
    merge,
    ranked_risks,
    take_back_votes,
    tallies,
    top_risks,
    votes_used,
)

__all__ = [
    "MAX_ACTION_CHARS",
    "MAX_INITIATIVE_CHARS",
    "MAX_RISK_CHARS",
    "PAGE_SIZE",
    "REVIEW_ABOUT",
    "Command",
    "RankedRisk",
    "StartRequest",
    "Template",
    "VoteResult",
    "active_risks",
    "add_anonymous_risk",
    "add_months",
    "add_thread_risk",
    "advance",
    "cancel_followups",
    "cast_vote",
    "clean_risk_text",
    "decision_errors",
    "delete_thread_risk",
    "due_for_advance",
    "edit_thread_risk",
    "export_markdown",
    "find_by_thread",
    "followup_due_at",
    "followups",
    "get",
    "get_for_update",
    "is_facilitator",
    "list_premortems",
    "merge",
    "needing_repost",
    "next_allowed",
    "parse_command",
    "plan_owner_nudge",
    "plan_review",
    "prevention_for",
    "preventions",
    "ranked_risks",
    "record_prevention",
    "require_facilitator",
    "risk_by_number",
    "risk_of",
    "set_prevention_status",
    "start",
    "take_back_votes",
    "take_over",
    "tallies",
    "top_risks",
    "votes_used",
    "window_end",
    "working_days_before",
]
