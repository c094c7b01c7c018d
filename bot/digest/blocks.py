"""Block Kit and Markdown for digests and impact briefs, built from data (no I/O).

Slack's limits: 50 blocks a message, 3000 characters of section text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.digest.experiments import arm_label
from bot.digest.weeks import week_label
from bot.people.privacy import withheld_reason
from bot.slack.blocks import Block, button, context, divider, fit, header, section

if TYPE_CHECKING:
    from bot.digest.impact import ImpactBrief
    from bot.digest.programs import LDDigest
    from bot.digest.team import BehaviorFigures, ManagerDigest, ProgramFigures

# Action ids other slices may place (App Home): see listeners.py.
SHARE_ACTION = "digest_share_with_manager"
OPT_IN_ACTION = "digest_enrollment_opt_in"
IMPACT_ACTION = "digest_impact_brief"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


def change(value: float | None) -> str:
    if value is None:
        return "no comparison"
    points = round(value * 100)
    if points == 0:
        return "same as last week"
    return f"{'▲' if points > 0 else '▼'} {abs(points)} pts vs last week"


def _fit(out: list[Block]) -> list[Block]:
    return fit(out, "More in `nudgebot impact` and App Home.")


# -- Manager digest -----------------------------------------------------------------------------


def manager_digest_text(digest: ManagerDigest) -> str:
    """The notification text (what shows in the push and for screen readers)."""
    return f"Your team's behaviors, {week_label(digest.week.first_day)}"


def manager_digest_blocks(digest: ManagerDigest) -> list[Block]:
    out: list[Block] = [header("Your team's behaviors this week")]
    out.append(context(f"Week of {digest.week.first_day:%A %d %B %Y} · your direct reports"))
    if digest.below_threshold:
        out.append(
            section(
                f"Too few people for team figures: they appear once at least "
                f"{digest.min_group} people on your team are getting nudges "
                f"(now {digest.team_size}). Nothing finer is shown, to keep it from "
                "pointing at anyone."
            )
        )
        return out
    if not digest.programs:
        out.append(section("No active program sent your team nudges in the last 8 weeks."))
    for program in digest.programs:
        out.extend(_program_blocks(program, digest.min_group))
    out.extend(_shared_blocks(digest))
    out.append(
        context(
            f"Figures appear only where at least {digest.min_group} people are behind them. "
            "Reflections and who answered “not relevant” are never shown to managers."
        )
    )
    return _fit(out)


def _program_blocks(program: ProgramFigures, k: int) -> list[Block]:
    out: list[Block] = [divider(), section(f"*{program.title}*")]
    if not program.behaviors:
        out.append(section(f"Too few people for figures (fewer than {k} got its nudges)."))
        return out
    out.extend(section(_behavior_line(b, k)) for b in program.behaviors)
    if program.on_streak is not None:
        out.append(
            context(
                f"🔥 On a streak: {program.on_streak} of {program.people} people acted on this "
                "program's nudges in each of the last 3 weeks."
            )
        )
    if program.coming_up:
        out.append(context("Coming up: " + "; ".join(program.coming_up)))
    if program.coaching:
        out.append(section(f"*Suggested coaching conversation*\n{program.coaching}"))
    return out


def _behavior_line(b: BehaviorFigures, k: int) -> str:
    if b.share is None:
        return f"• {b.label}\n`{b.spark}`  too few people last week for a figure (fewer than {k})"
    return (
        f"• {b.label}\n`{b.spark}`  *{pct(b.share)}* acted on "
        f"({b.acted_last_week} of {b.sent_last_week} nudges, {b.people_last_week} people) · "
        f"{change(b.change)}"
    )


def _shared_blocks(digest: ManagerDigest) -> list[Block]:
    if not digest.shared:
        return []
    lines = [f"• {p.name}: acted on {p.acted} of {p.sent} nudges" for p in digest.shared]
    return [
        divider(),
        section("*Shared with you by the people themselves*\n" + "\n".join(lines)),
    ]


# -- L&D digest ---------------------------------------------------------------------------------


def ld_digest_blocks(digest: LDDigest) -> list[Block]:
    out: list[Block] = [header("L&D digest: adoption and impact")]
    out.append(context(f"Week of {digest.week.first_day:%A %d %B %Y}"))
    for program in digest.programs:
        out.append(divider())
        if program.too_few:
            out.append(
                section(
                    f"*{program.title}*: too few people enrolled for figures "
                    f"(fewer than {digest.min_group})."
                )
            )
            continue
        if program.week_withheld:
            last_week = (
                f"adoption last week withheld ({program.nudged_last_week} people nudged, "
                f"{withheld_reason(digest.min_group)})"
            )
        else:
            last_week = (
                f"adoption last week *{pct(program.adoption)}* ({program.acted_last_week} of "
                f"{program.nudged_last_week} people nudged acted)"
            )
        lines = [f"*{program.title}*: {program.enrolled} enrolled · {last_week}"]
        for step in program.funnel:
            acted = "—" if step.acted < 0 else str(step.acted)
            lines.append(f"  {step.label}: reached {step.reached}, acted {acted}")
        out.append(section("\n".join(lines)))
        if program.reasons:
            reasons = ", ".join(f"{r} ({n})" for r, n in program.reasons)
            out.append(context(f"Top “not relevant” reasons: {reasons}"))
    if digest.intake is not None:
        items = [f"• #{i.request_id} {i.goal} (impact {i.impact:g})" for i in digest.intake]
        out.append(divider())
        out.append(section("*Intake queue, top by impact*\n" + ("\n".join(items) or "Empty.")))
    if digest.overdue is not None:
        items = [
            f"• {p.action} (<@{p.owner_id}>, due {p.due}, pre-mortem #{p.premortem_id})"
            for p in digest.overdue
        ]
        out.append(section("*Pre-mortem preventions overdue*\n" + ("\n".join(items) or "None.")))
    return _fit(out)


# -- Impact brief -------------------------------------------------------------------------------


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "no data yet"
    return f"{value:g}{unit}" if unit == "%" else f"{value:g} {unit}"


def impact_markdown(brief: ImpactBrief) -> str:
    u = brief.unit
    lines = [
        f"# Impact brief: {brief.title}",
        "",
        "## Business goal",
        brief.goal,
        "",
        f"**Behavior:** {brief.behavior}",
        "",
        f"## Metric: {brief.metric_name}",
        f"Baseline **{_num(brief.baseline, u)}** → current **{_num(brief.current, u)}**"
        + (f" (on {brief.current_on.isoformat()})" if brief.current_on else "")
        + f" → target **{_num(brief.target, u)}** by {brief.by}"
        + (f" ({round(brief.progress * 100)}% of the way)" if brief.progress is not None else ""),
        "",
        "## Behavior adoption over time",
        "",
        "| Week | Nudges sent | Acted on | People | Adoption | Metric |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for w in brief.weeks:
        metric = f"{w.metric:g}" if w.metric is not None else ""
        lines.append(
            f"| {w.first_day.isoformat()} | {w.sent} | {w.acted} | {w.people} | "
            f"{pct(w.adoption)} | {metric} |"
        )
    lines += ["", "## Experiment", *_experiment_lines(brief), "", "## Top reasons given"]
    if brief.reasons:
        lines += [f"- “Not relevant”: {r} ({n})" for r, n in brief.reasons]
    else:
        lines.append("None recorded (or too few people to show them).")
    lines += ["", "## Next steps", *[f"- {s}" for s in brief.next_steps]]
    lines += [
        "",
        f"_Figures appear only where at least {brief.min_group} people are behind them._",
    ]
    return "\n".join(lines) + "\n"


def _experiment_lines(brief: ImpactBrief) -> list[str]:
    lines: list[str] = []
    for rate in brief.arms:
        ci = rate.interval
        span = f" (95% CI {ci[0] * 100:.1f}–{ci[1] * 100:.1f}%)" if ci else ""
        lines.append(
            f"- {arm_label(rate.arm)}: {rate.acted} of {rate.total} nudges acted on, "
            f"{pct(rate.share)}{span}"
        )
    for arm in brief.hidden_arms:
        lines.append(f"- {arm_label(arm)}: too few people to show")
    if brief.holdout_people:
        lines.append(
            f"- holdout: {brief.holdout_people} people get no nudges; compare their KPI with "
            "the enrolled teams'"
        )
    lines += [f"- **{c.statement}**" for c in brief.comparisons]
    if not brief.comparisons:
        lines.append("- No variants to compare: everyone gets the main wording.")
    return lines


def impact_blocks(brief: ImpactBrief) -> list[Block]:
    """The brief as a Slack message: the same facts as the Markdown, shorter."""
    u = brief.unit
    adoption = [w.adoption for w in brief.weeks if w.adoption is not None]
    out: list[Block] = [
        header(f"Impact brief: {brief.title}"),
        section(f"*Business goal*\n{brief.goal[:1200]}"),
        section(
            f"*{brief.metric_name}*\nBaseline *{_num(brief.baseline, u)}* → current "
            f"*{_num(brief.current, u)}* → target *{_num(brief.target, u)}* by {brief.by}"
        ),
        section(
            "*Adoption* (share of nudges acted on, last weeks): "
            + (", ".join(pct(a) for a in adoption[-6:]) or "too few people yet")
        ),
        section("*Experiment*\n" + "\n".join(_experiment_lines(brief))),
    ]
    if brief.reasons:
        out.append(
            section("*Top reasons given*\n" + "\n".join(f"• {r} ({n})" for r, n in brief.reasons))
        )
    out.append(section("*Next steps*\n" + "\n".join(f"• {s}" for s in brief.next_steps)))
    return _fit(out)


# -- Choices a person makes for themselves (App Home places these) ------------------------------


def privacy_choice_blocks(*, sharing: bool, opted_in: bool, works_council: bool) -> list[Block]:
    share_text = (
        "Your manager sees how many of your nudges you acted on (never your reflections)."
        if sharing
        else "Your manager sees team figures only, never yours."
    )
    share = button(
        "Stop sharing" if sharing else "Share mine", SHARE_ACTION, "off" if sharing else "on"
    )
    out = [section(share_text, block_id="digest_share", accessory=share)]
    if works_council:
        opt_in = button(
            "Opt out" if opted_in else "Opt in", OPT_IN_ACTION, "off" if opted_in else "on"
        )
        text = "You get program nudges." if opted_in else "You get no nudges unless you opt in."
        out.append(section(text, block_id="digest_opt_in", accessory=opt_in))
    return out


def impact_button(program_id: str) -> Block:
    """For App Home (L&D leads): posts the program's impact brief to the lead's DM."""
    return button("Impact brief", IMPACT_ACTION, program_id)
