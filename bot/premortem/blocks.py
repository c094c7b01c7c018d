"""Block Kit for pre-mortems, built from data; no I/O.

Every id a handler reads back is a constant here (the modals' in modals.py), so
listeners and blocks agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from bot.premortem.command import PAGE_SIZE, TEMPLATES
from bot.premortem.models import Phase, Premortem, Prevention, PreventionStatus, Risk
from bot.premortem.votes import RankedRisk
from bot.slack.blocks import Block, button, context, escape, header, section, truncate

# action ids
ADD_ANON = "premortem_add_anonymous"
NEXT_PHASE = "premortem_next_phase"
TAKE_OVER = "premortem_take_over"
VOTE = "premortem_vote"
TAKE_BACK = "premortem_take_back"
MERGE = "premortem_merge"
DECIDE = "premortem_decide"
PUBLISH = "premortem_publish"
PREVENTION_STATUS = "premortem_prevention_status"
# view callback ids

BOARD_TEXT_LIMIT = 600  # a board row shows this much; the export keeps the whole risk

PHASE_LABEL = {
    Phase.collect: "Collecting risks",
    Phase.vote: "Voting",
    Phase.decide: "Deciding preventions",
    Phase.done: "Finished",
}
NEXT_LABEL = {
    Phase.collect: "Close collection, start voting",
    Phase.vote: "Close voting, start deciding",
    Phase.decide: "Publish the summary",
}
STATUS_EMOJI = {
    PreventionStatus.open: ":hourglass_flowing_sand:",
    PreventionStatus.done: ":white_check_mark:",
    PreventionStatus.blocked: ":construction:",
    PreventionStatus.dropped: ":wastebasket:",
}


def slack_time(moment: datetime) -> str:
    """Shown in each reader's own time zone by Slack."""
    stamp = int(moment.timestamp())
    return f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def slack_date(day: date) -> str:
    return day.strftime("%a %d %b %Y")


# -- the parent message ------------------------------------------------------------


def parent_blocks(premortem: Premortem, *, risk_count: int) -> list[Block]:
    template = TEMPLATES[premortem.template]
    horizon = slack_date(premortem.horizon)
    questions = "\n".join(
        "• " + q.format(horizon=horizon, initiative=f"*{escape(premortem.initiative)}*")
        for q in template.questions
    )
    status = f"*{PHASE_LABEL[premortem.phase]}*"
    if premortem.phase_deadline is not None:
        status += f" until {slack_time(premortem.phase_deadline)}"
    blocks: list[Block] = [
        header(f"Pre-mortem: {premortem.initiative}"),
        section(
            f"Imagine it is *{horizon}* and *{escape(premortem.initiative)}* has failed.\n"
            f"_{template.title}_\n{questions}"
        ),
        section(
            "Reply in this thread with one risk per message (edits and deletions count while "
            "we collect), or add one anonymously: nobody, the facilitator included, will see "
            "who wrote it."
        ),
        context(
            f"Facilitator: <@{premortem.facilitator_id}> · {status}"
            + ("" if premortem.phase == Phase.collect else f" · {risk_count} risk(s) collected")
            + f" · pre-mortem {premortem.id}"
        ),
    ]
    actions = []
    if premortem.phase == Phase.collect:
        actions.append(
            button("Add a risk anonymously", ADD_ANON, str(premortem.id), style="primary")
        )
    if premortem.phase in NEXT_LABEL:
        # The value names the phase the click means to leave, so a double click moves once.
        value = f"{premortem.id}:{premortem.phase.value}"
        actions.append(button(NEXT_LABEL[premortem.phase], NEXT_PHASE, value))
    if premortem.phase != Phase.done:
        actions.append(button("Take over facilitation", TAKE_OVER, str(premortem.id)))
    if actions:
        blocks.append({"type": "actions", "block_id": "premortem_parent", "elements": actions})
    return blocks


def parent_text(premortem: Premortem) -> str:
    return f"Pre-mortem: {premortem.initiative} ({PHASE_LABEL[premortem.phase]})"


# -- the vote board ------------------------------------------------------------------------


def page_count(risks: Sequence[Risk]) -> int:
    pages = [r.board_page for r in risks if r.board_page is not None]
    return max(pages) + 1 if pages else 1


def board_blocks(
    premortem: Premortem,
    *,
    page: int,
    pages: int,
    risks: Sequence[Risk],
    counts: dict[int, int],
) -> list[Block]:
    """One page of the vote board: a header, a row per risk, the shared buttons."""
    open_ = premortem.phase == Phase.vote
    head = (
        f"*Vote on the risks* (page {page + 1} of {pages}). Each of you has "
        f"*{premortem.vote_budget}* vote(s), at most {premortem.votes_per_risk} on one risk."
        if open_
        else f"*Votes are closed* (page {page + 1} of {pages})."
    )
    blocks: list[Block] = [section(head)]
    for risk in risks[:PAGE_SIZE]:
        blocks.append(_risk_row(risk, counts.get(risk.id, 0), open_))
    if not risks:
        blocks.append(section("_No risks were raised in this thread._"))
    if open_:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"premortem_board_{page}",
                "elements": [
                    button("Take back my votes", TAKE_BACK, str(premortem.id)),
                    button("Merge similar risks", MERGE, str(premortem.id)),
                ],
            }
        )
    return blocks


def _risk_row(risk: Risk, votes: int, open_: bool) -> Block:
    who = "anonymous" if risk.anonymous else f"<@{risk.author_id}>"
    body = escape(truncate(risk.text, BOARD_TEXT_LIMIT))
    text = f"*#{risk.number}* {body}\n_{who}_ · *{votes}* vote(s)"
    row = section(text)
    row["block_id"] = f"risk_{risk.id}"
    if open_:
        row["accessory"] = button(f"Vote #{risk.number}", VOTE, str(risk.id))
    return row


def board_text(premortem: Premortem, page: int) -> str:
    return f"Vote on the risks of {premortem.initiative} (page {page + 1})"


# -- deciding ------------------------------------------------------------------------


def decide_blocks(
    premortem: Premortem, *, top: Sequence[RankedRisk], decided: dict[int, Prevention]
) -> list[Block]:
    blocks: list[Block] = [
        section(
            f"*Top {len(top)} risk(s) by votes.* <@{premortem.facilitator_id}>, record a "
            "prevention, an owner and a due date for each, then publish the summary."
        )
    ]
    for item in top:
        prevention = decided.get(item.risk.id)
        line = (
            f"*{item.rank}. #{item.risk.number}* {escape(truncate(item.risk.text, 500))} "
            f"({item.votes} vote(s))"
        )
        if prevention is not None:
            line += (
                f"\n:white_check_mark: {escape(truncate(prevention.action, 500))} · "
                f"<@{prevention.owner_id}> · due {slack_date(prevention.due_date)}"
            )
        row = section(line)
        if premortem.phase == Phase.decide:
            label = "Change decision" if prevention else "Decide"
            row["accessory"] = button(label, DECIDE, f"{premortem.id}:{item.risk.id}")
        blocks.append(row)
    if not top:
        blocks.append(section("_No risks to decide on._"))
    if premortem.phase == Phase.decide:
        blocks.append(
            {
                "type": "actions",
                "block_id": "premortem_decide",
                "elements": [
                    button(
                        "Publish the summary", PUBLISH, f"{premortem.id}:decide", style="primary"
                    )
                ],
            }
        )
    return blocks


# -- summary, follow-ups, lists ---------------------------------------------------------------


SUMMARY_RISKS = 20


def summary_blocks(
    premortem: Premortem,
    *,
    ranked: Sequence[RankedRisk],
    decided: Sequence[Prevention],
    late: int,
) -> list[Block]:
    numbers = {r.risk.id: r.risk.number for r in ranked}
    lines = [
        f"{r.rank}. *#{r.risk.number}* {escape(truncate(r.risk.text, 200))} ({r.votes} vote(s))"
        for r in ranked[:SUMMARY_RISKS]
    ]
    if len(ranked) > SUMMARY_RISKS:
        lines.append(
            f"…and {len(ranked) - SUMMARY_RISKS} more (`nudgebot premortem export {premortem.id}`)"
        )
    blocks: list[Block] = [
        header(f"Pre-mortem summary: {premortem.initiative}"),
        context(
            f"Facilitator: <@{premortem.facilitator_id}> · imagined failure by "
            f"{slack_date(premortem.horizon)} · pre-mortem {premortem.id}"
        ),
        section("*Risks, ranked by votes*\n" + ("\n".join(lines) or "_No risks were raised._")),
    ]
    prevention_lines = [
        f"{STATUS_EMOJI[p.status]} #{numbers.get(p.risk_id, '?')}: "
        f"{escape(truncate(p.action, 300))} · <@{p.owner_id}> · due {slack_date(p.due_date)}"
        for p in decided
    ]
    blocks.append(section("*Preventions*\n" + ("\n".join(prevention_lines) or "_None recorded._")))
    if late:
        blocks.append(
            context(f"{late} risk(s) came in after collection closed; they are kept in the export.")
        )
    return blocks


def nudge_blocks(premortem: Premortem, prevention: Prevention, risk: Risk) -> list[Block]:
    return [
        section(
            f"Your prevention from the pre-mortem *{escape(premortem.initiative)}* is due "
            f"*{slack_date(prevention.due_date)}*:\n>{escape(truncate(prevention.action, 1000))}\n"
            f"_Risk #{risk.number}: {escape(truncate(risk.text, 500))}_"
        ),
        status_actions(prevention),
    ]


def status_actions(prevention: Prevention) -> Block:
    value = str(prevention.id)
    return {
        "type": "actions",
        "block_id": f"prevention_{prevention.id}",
        "elements": [
            {**button("Done", f"{PREVENTION_STATUS}_done", f"{value}:done", style="primary")},
            button("Blocked", f"{PREVENTION_STATUS}_blocked", f"{value}:blocked"),
            button("Dropped", f"{PREVENTION_STATUS}_dropped", f"{value}:dropped", style="danger"),
        ],
    }


def status_done_blocks(prevention: Prevention, actor: str) -> list[Block]:
    return [
        section(
            f"{STATUS_EMOJI[prevention.status]} *{escape(truncate(prevention.action, 1000))}* is "
            f"marked *{prevention.status.value}* by <@{actor}>."
        )
    ]


def review_blocks(premortem: Premortem, open_items: Sequence[Prevention]) -> list[Block]:
    lines = [
        f"{STATUS_EMOJI[p.status]} {escape(truncate(p.action, 300))} · <@{p.owner_id}> · "
        f"due {slack_date(p.due_date)}"
        for p in open_items[:40]
    ]
    blocks = [
        section(
            f"Time to re-review the pre-mortem *{escape(premortem.initiative)}* "
            f"in <#{premortem.channel_id}>. Are the risks still the right ones?"
        ),
        section(
            "*Preventions not yet done*\n" + "\n".join(lines)
            if lines
            else "Every prevention is done or closed."
        ),
    ]
    return blocks


def list_text(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "No pre-mortems in this channel yet. Start one with `/premortem <initiative>`."
    lines = [
        f"• *{r['id']}* {escape(str(r['initiative']))} · {r['phase']} · {r['risks']} risk(s) · "
        f"{r['preventions']} prevention(s) · facilitator <@{r['facilitator']}>"
        for r in rows[:30]
    ]
    return "*Pre-mortems in this channel*\n" + "\n".join(lines)


HELP = (
    "*/premortem <initiative>* starts a pre-mortem in this channel: imagine it failed, "
    "collect why in the thread, vote, decide preventions with owners and dates.\n"
    "Options: `--template why|risks|stakeholders`, `--horizon 6m`.\n"
    "*/premortem list* shows this channel's pre-mortems. *help* shows this."
)
