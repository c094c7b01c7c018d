"""The impact chart: the KPI and behavior adoption over the same weeks, as a PNG.

Drawn with Pillow (a small, well-kept imaging library) instead of a full plotting
stack: two lines, two axes and labels are all leadership needs here. Pillow is
imported when a chart is drawn, not when the bot starts: few processes ever draw
one, and every process would carry its 3 MB.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.digest.impact import ImpactBrief

if TYPE_CHECKING:
    from PIL import ImageDraw

WIDTH, HEIGHT = 900, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 70, 50, 60
METRIC_COLOUR = (31, 119, 180)
ADOPTION_COLOUR = (44, 160, 44)
TARGET_COLOUR = (214, 39, 40)
GRID = (225, 225, 225)
INK = (40, 40, 40)


def _scale(low: float, high: float, top: int, bottom: int) -> tuple[float, float]:
    if high == low:
        high, low = high + 1, low - 1
    return low, (bottom - top) / (high - low)


def impact_png(brief: ImpactBrief) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    plot_bottom, plot_right = HEIGHT - BOTTOM, WIDTH - RIGHT
    weeks = brief.weeks
    step = (plot_right - LEFT) / max(1, len(weeks) - 1)
    xs = [LEFT + i * step for i in range(len(weeks))]
    values = [v for v in (w.metric for w in weeks) if v is not None]
    bounds = [*values, brief.baseline, brief.target]
    low, per = _scale(min(bounds), max(bounds), TOP, plot_bottom)

    def metric_y(value: float) -> float:
        return plot_bottom - (value - low) * per

    def adoption_y(share: float) -> float:
        return plot_bottom - share * (plot_bottom - TOP)

    for tick in range(0, 101, 25):
        y = adoption_y(tick / 100)
        draw.line([(LEFT, y), (plot_right, y)], fill=GRID)
        draw.text((plot_right + 6, y - 6), f"{tick}%", fill=ADOPTION_COLOUR, font=font)
    for value in sorted({brief.baseline, brief.target, *values[-1:]}):
        draw.text((6, metric_y(value) - 6), f"{value:g}", fill=METRIC_COLOUR, font=font)
    target_y = metric_y(brief.target)
    draw.line([(LEFT, target_y), (plot_right, target_y)], fill=TARGET_COLOUR, width=1)
    draw.text((LEFT + 4, target_y - 14), f"target {brief.target:g}", fill=TARGET_COLOUR, font=font)
    draw.rectangle([(LEFT, TOP), (plot_right, plot_bottom)], outline=INK)
    _line(draw, xs, [w.metric for w in weeks], metric_y, METRIC_COLOUR)
    _line(draw, xs, [w.adoption for w in weeks], adoption_y, ADOPTION_COLOUR)
    for x, week in zip(xs, weeks, strict=True):
        draw.text((x - 14, plot_bottom + 6), f"{week.first_day:%d %b}", fill=INK, font=font)
    draw.text((LEFT, 12), brief.title[:100], fill=INK, font=font)
    draw.text(
        (LEFT, 28),
        f"blue: {brief.metric_name[:60]} ({brief.unit})   green: nudges acted on",
        fill=INK,
        font=font,
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _line(
    draw: ImageDraw.ImageDraw,
    xs: list[float],
    values: list[float | None],
    to_y: Callable[[float], float],
    colour: tuple[int, int, int],
) -> None:
    points = [(x, to_y(v)) for x, v in zip(xs, values, strict=True) if v is not None]
    if len(points) > 1:
        draw.line(points, fill=colour, width=3)
    for x, y in points:
        draw.ellipse([(x - 4, y - 4), (x + 4, y + 4)], fill=colour)
