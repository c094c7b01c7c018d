"""Block Kit, built once: text objects, the common blocks, Slack's limits, and the
check of a message against them. Every slice's `blocks.py` builds its messages and
views from these, so a limit or an escaping rule is fixed in one place.

Builders cut text to Slack's limit by default, ending with "…", so a long title
never makes Slack refuse a message. Pass `limit=None` to keep text exactly as
given: the content library does, so `block_kit_problems` can report an over-long
label when the file loads, where an author can fix it, instead of hiding it.

Limits: https://docs.slack.dev/reference/block-kit
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block as SdkBlock

Block = dict[str, Any]

MESSAGE_BLOCKS = 50  # blocks in a message
VIEW_BLOCKS = 100  # blocks in a modal or the Home tab
SECTION_TEXT = 3000  # characters of a section's (or a context element's) text
HEADER_TEXT = 150  # characters of a header's text
PLAIN_TEXT = 150  # characters of most plain-text fields: labels, options, placeholders
BUTTON_TEXT = 75  # characters of a button's (or an option's) label
ID = 255  # characters of a block_id or an action_id
BUTTON_VALUE = 2000
OPTION_VALUE = 150
PRIVATE_METADATA = 3000
ELLIPSIS = "…"


# -- text ----------------------------------------------------------------------------------


def escape(text: str) -> str:
    """People's text goes into mrkdwn as text, never as markup or mentions: Slack's three
    control characters are escaped, everything else shows as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int | None) -> str:
    """`text` within `limit` characters, ending in "…" when cut; None: no limit."""
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def escape_within(text: str, limit: int) -> str:
    """Escaped text within `limit` characters, cut between characters, never inside
    `&amp;`, ending in "…" when cut."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    out, size = [], 0
    for char in text:
        piece = escape(char)
        if size + len(piece) > limit - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + ELLIPSIS


def plain(text: str, limit: int | None = PLAIN_TEXT, *, emoji: bool = True) -> Block:
    """A plain_text object. Slack refuses an empty one, so empty text becomes a space."""
    return {"type": "plain_text", "text": truncate(text, limit) or " ", "emoji": emoji}


def mrkdwn(text: str, limit: int | None = SECTION_TEXT, *, verbatim: bool = False) -> Block:
    """A mrkdwn object. `verbatim`: links and mentions are not auto-detected, so what a
    person typed is never turned into a link or a ping."""
    out: Block = {"type": "mrkdwn", "text": truncate(text, limit)}
    if verbatim:
        out["verbatim"] = True
    return out


# -- blocks --------------------------------------------------------------------------------


def section(
    text: str,
    *,
    block_id: str | None = None,
    accessory: Block | None = None,
    limit: int | None = SECTION_TEXT,
    verbatim: bool = False,
) -> Block:
    block: Block = {"type": "section"}
    if block_id is not None:
        block["block_id"] = block_id
    block["text"] = mrkdwn(text, limit, verbatim=verbatim)
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(*texts: str, block_id: str | None = None, limit: int | None = SECTION_TEXT) -> Block:
    """A context block of mrkdwn elements (small grey text under a message)."""
    block: Block = {"type": "context"}
    if block_id is not None:
        block["block_id"] = block_id
    block["elements"] = [mrkdwn(t, limit) for t in texts]
    return block


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_TEXT)}


def divider() -> Block:
    return {"type": "divider"}


def button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    limit: int | None = BUTTON_TEXT,
) -> Block:
    """A button; `style` is "primary" or "danger" (None: the default grey)."""
    out: Block = {
        "type": "button",
        "text": plain(text, limit),
        "action_id": action_id,
        "value": value,
    }
    if style:
        out["style"] = style
    return out


def actions(elements: Sequence[Block], *, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions"}
    if block_id is not None:
        block["block_id"] = block_id
    block["elements"] = list(elements)
    return block


def fit(blocks: list[Block], note: str, *, limit: int = MESSAGE_BLOCKS) -> list[Block]:
    """At most `limit` blocks: when there are more, the last one kept says where the rest
    is (`note`, as a context block) instead of Slack refusing the whole message."""
    if len(blocks) <= limit:
        return blocks
    return [*blocks[: limit - 1], context(note)]


# -- checking a message against the limits ------------------------------------------------


def block_kit_problems(message: Block) -> list[str]:
    """What Slack would refuse in this message, one sentence each; empty when it is fine."""
    blocks: list[Block] = message.get("blocks", [])
    problems: list[str] = []
    if len(blocks) > MESSAGE_BLOCKS:
        problems.append(f"has {len(blocks)} blocks; Slack allows {MESSAGE_BLOCKS}")
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    repeated = sorted({i for i in block_ids if block_ids.count(i) > 1})
    problems += [f"repeats block_id {i!r}" for i in repeated]
    for block in blocks:
        problems += _block_problems(block)
        try:
            parsed = SdkBlock.parse(block)
            if parsed is None:
                problems.append(f"has a block Slack does not know: {block.get('type')!r}")
            else:
                parsed.validate_json()
        except SlackObjectFormationError as exc:
            problems.append(f"is refused by Block Kit: {exc}")
    return problems


def _block_problems(block: Block) -> list[str]:
    problems: list[str] = []
    if len(block.get("block_id", "")) > ID:
        problems.append(f"has a block_id longer than {ID} characters")
    text = block.get("text", {}).get("text", "") if block.get("type") == "section" else ""
    if len(text) > SECTION_TEXT:
        problems.append(f"has {len(text)} characters of section text; Slack allows {SECTION_TEXT}")
    elements = block.get("elements", []) if block.get("type") == "actions" else []
    action_ids = [e.get("action_id", "") for e in elements]
    for repeated in sorted({a for a in action_ids if action_ids.count(a) > 1}):
        problems.append(f"repeats action_id {repeated!r} in one block")
    for element in elements:
        problems += _element_problems(element)
    return problems


def _element_problems(element: Block) -> list[str]:
    problems: list[str] = []
    if len(element.get("action_id", "")) > ID:
        problems.append(f"has an action_id longer than {ID} characters")
    if element.get("type") == "button":
        label = element.get("text", {}).get("text", "")
        if len(label) > BUTTON_TEXT:
            problems.append(
                f"has a {len(label)}-character button label {label[:20]!r}…; "
                f"Slack allows {BUTTON_TEXT}"
            )
        if len(element.get("value", "")) > BUTTON_VALUE:
            problems.append(f"has a button value longer than {BUTTON_VALUE} characters")
    for option in element.get("options", []):
        label = option.get("text", {}).get("text", "")
        if len(label) > BUTTON_TEXT:
            problems.append(
                f"has a {len(label)}-character option {label[:20]!r}…; Slack allows {BUTTON_TEXT}"
            )
        if len(option.get("value", "")) > OPTION_VALUE:
            problems.append(f"has an option value longer than {OPTION_VALUE} characters")
    return problems
