"""The records of pre-mortems: the list, and the Markdown export of one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.premortem.command import TEMPLATES
from bot.premortem.decisions import preventions
from bot.premortem.models import (
    Phase,
    Premortem,
    Prevention,
    Risk,
    RiskStatus,
)
from bot.premortem.threads import active_risks, get
from bot.premortem.votes import ranked_risks

# -- records -------------------------------------------------------------------------------


def list_premortems(
    session: Session, *, channel_id: str | None = None, workspace_id: str | None = None
) -> list[dict[str, Any]]:
    query = select(Premortem).order_by(Premortem.id.desc())
    if channel_id:
        query = query.where(Premortem.channel_id == channel_id)
    if workspace_id is not None:
        query = query.where(Premortem.workspace_id == workspace_id)
    counts = dict(
        session.execute(
            select(Risk.premortem_id, func.count())
            .where(Risk.status == RiskStatus.active)
            .group_by(Risk.premortem_id)
        ).all()
    )
    decided = dict(
        session.execute(
            select(Prevention.premortem_id, func.count()).group_by(Prevention.premortem_id)
        ).all()
    )
    return [
        {
            "id": p.id,
            "initiative": p.initiative,
            "channel": p.channel_id,
            "facilitator": p.facilitator_id,
            "phase": p.phase.value,
            "risks": int(counts.get(p.id, 0)),
            "preventions": int(decided.get(p.id, 0)),
            "started": p.created_at,
            "finished": p.finished_at,
        }
        for p in session.scalars(query)
    ]


def _author(risk: Risk) -> str:
    return "anonymous" if risk.anonymous else f"<@{risk.author_id}>"


def _notes(risk: Risk, merged: tuple[int, ...] = ()) -> str:
    notes = []
    if merged:
        notes.append("merged with " + ", ".join(f"#{n}" for n in merged))
    if risk.changed_after_collect:
        notes.append("edited or deleted in Slack after collection; kept as collected")
    return f" _({'; '.join(notes)})_" if notes else ""


def _votes(count: int) -> str:
    return f"{count} vote" if count == 1 else f"{count} votes"


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def export_markdown(session: Session, *, premortem_id: int) -> str:
    """A finished pre-mortem as Markdown: ranked risks, preventions, late risks."""
    premortem = get(session, premortem_id)
    if premortem.phase != Phase.done:
        raise UserError(
            f"pre-mortem {premortem_id} is still in the {premortem.phase.value} phase; "
            "export works once its summary is published"
        )
    template = TEMPLATES.get(premortem.template)
    lines = [
        f"# Pre-mortem: {premortem.initiative}",
        "",
        f"- Channel: {premortem.channel_id}",
        f"- Facilitator: {premortem.facilitator_id}",
        f"- Template: {template.title if template else premortem.template}",
        f"- Horizon: imagine it is {premortem.horizon.isoformat()} and it failed",
        f"- Started: {premortem.created_at:%Y-%m-%d %H:%M} UTC",
        f"- Finished: {premortem.finished_at:%Y-%m-%d %H:%M} UTC" if premortem.finished_at else "",
        "",
        "## Risks, ranked by votes",
        "",
    ]
    ranked = ranked_risks(session, premortem.id)
    for item in ranked:
        risk = item.risk
        lines.append(
            f"{item.rank}. **#{risk.number}** ({_votes(item.votes)}, {_author(risk)}) "
            f"{_md_cell(risk.text)}{_notes(risk, item.merged_numbers)}"
        )
    if not ranked:
        lines.append("No risks were raised.")
    lines += ["", "## Preventions", ""]
    numbers = {r.risk.id: r.risk.number for r in ranked}
    rows = preventions(session, premortem.id)
    if rows:
        lines += ["| Risk | Prevention | Owner | Due | Status |", "|---|---|---|---|---|"]
        for p in rows:
            lines.append(
                f"| #{numbers.get(p.risk_id, '?')} | {_md_cell(p.action)} | {p.owner_id} "
                f"| {p.due_date.isoformat()} | {p.status.value} |"
            )
    else:
        lines.append("No preventions were recorded.")
    late = [r for r in active_risks(session, premortem.id, include_late=True) if r.late]
    if late:
        lines += ["", "## Raised after collection closed", ""]
        lines += [f"- **#{r.number}** ({_author(r)}) {_md_cell(r.text)}" for r in late]
    return "\n".join(line for line in lines if line is not None) + "\n"
