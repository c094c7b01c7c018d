"""Block Kit for the portfolio (`/intake list`): every open request by impact, with a
heatmap of impact × urgency, packed under Slack's block and section limits."""

from __future__ import annotations

from collections.abc import Sequence

from bot.intake.models import IntakeRequest
from bot.intake.scoring import IMPACT_BANDS, LATER, URGENCY_BANDS, Score
from bot.slack import blocks as kit
from bot.slack.blocks import MESSAGE_BLOCKS, SECTION_TEXT, Block

LIST_CALLBACK = "intake_list"


def _section(text: str) -> Block:
    return kit.section(text, verbatim=True)


def heatmap(scores: Sequence[Score]) -> str:
    """Impact band × urgency band counts, as a monospace grid with shaded cells."""
    columns = [name for name, _, _ in URGENCY_BANDS] + [LATER]
    counts = {(i, u): 0 for i, _ in IMPACT_BANDS for u in columns}
    for s in scores:
        counts[(s.impact_band, s.urgency_band)] += 1
    top = max(counts.values()) or 1
    width = max(len(c) for c in columns) + 2
    lines = ["impact \\ urgency".ljust(16) + "".join(c.rjust(width) for c in columns)]
    for band, floor in IMPACT_BANDS:
        row = f"{band} (≥{floor:g})".ljust(16)
        for column in columns:
            n = counts[(band, column)]
            row += f"{_shade(n, top)} {n}".rjust(width)
        lines.append(row)
    return "```\n" + "\n".join(lines) + "\n```"


def _shade(n: int, top: int) -> str:
    if n == 0:
        return "·"
    return "░▒▓█"[min(3, (4 * n - 1) // top)]


def portfolio_line(request: IntakeRequest, score: Score) -> str:
    return (
        f"*#{request.id}* · impact *{score.impact:g}* = 100 × {score.gap:g} × {score.cost:g} × "
        f"{score.urgency:g} ÷ {score.reach:g} · {score.urgency_band} · "
        f"{request.status.value.replace('_', ' ')} · <@{request.requester_slack_user_id}>\n"
        f"      {kit.escape_within(request.goal.replace(chr(10), ' '), 140)}"
    )


def portfolio_blocks(
    ranked: Sequence[tuple[IntakeRequest, Score]], *, max_blocks: int = MESSAGE_BLOCKS
) -> list[Block]:
    """Heatmap, then every request by impact, packed into sections under the block limits."""
    blocks: list[Block] = [
        {"type": "header", "text": kit.plain(f"Open training requests: {len(ranked)}")},
        _section(
            "Impact = 100 × gap × cost × urgency ÷ reach (see each line). "
            "Export everything: `nudgebot intake list --format csv`"
        ),
        _section(heatmap([s for _, s in ranked])),
        {"type": "divider"},
    ]
    budget = max_blocks - len(blocks) - 1  # keep one for the "and N more" footer
    chunk: list[str] = []
    shown_count = 0
    for request, score in ranked:
        line = portfolio_line(request, score)
        if chunk and len("\n".join([*chunk, line])) > SECTION_TEXT:
            if budget == 1:
                break
            blocks.append(_section("\n".join(chunk)))
            budget -= 1
            chunk = []
        chunk.append(line)
        shown_count += 1
    if chunk:
        blocks.append(_section("\n".join(chunk)))
    if shown_count < len(ranked):
        more = len(ranked) - shown_count
        blocks.append(
            {
                "type": "context",
                "elements": [
                    kit.mrkdwn(
                        f"…and {more} more with lower impact: `nudgebot intake list` has all.",
                        verbatim=True,
                    )
                ],
            }
        )
    if not ranked:
        blocks.append(_section("Nothing open. New requests arrive through `/intake`."))
    return blocks


def portfolio_view(ranked: Sequence[tuple[IntakeRequest, Score]]) -> Block:
    return {
        "type": "modal",
        "callback_id": LIST_CALLBACK,
        "title": kit.plain("Training requests"),
        "close": kit.plain("Close"),
        "blocks": portfolio_blocks(ranked),
    }
