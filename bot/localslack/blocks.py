"""A modest Block Kit validator.

Slack refuses malformed blocks (``invalid_blocks`` for messages,
``invalid_arguments`` for views) with messages that carry a JSON pointer.
We check the limits a bot is most likely to trip over (empty or too-long
texts, too many blocks or elements, duplicate ids), not the whole schema:
a local Slack that accepts everything would hide real bugs, one that refuses valid
payloads would invent them.
"""

from __future__ import annotations

from typing import Any, Final

BLOCK_TYPES: Final = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "rich_text",
        "section",
        "video",
        "markdown",
        "call",
        "table",
    }
)
TEXT_TYPES: Final = frozenset({"plain_text", "mrkdwn"})
MESSAGE_BLOCK_LIMIT: Final = 50
VIEW_BLOCK_LIMIT: Final = 100
INPUT_LIMIT: Final = 3000  # plain_text_input: min_length, max_length and the text itself
# Most options an element may offer (Slack's element reference).
OPTION_LIMITS: Final = {
    "static_select": 100,
    "multi_static_select": 100,
    "radio_buttons": 10,
    "checkboxes": 10,
    "overflow": 5,
}


class _Checker:
    """Collects Slack-style error strings while walking a payload."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, pointer: str, problem: str) -> None:
        self.errors.append(f"{problem} [json-pointer:{pointer}]")

    def max_len(self, pointer: str, value: object, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.fail(pointer, f"must be less than {limit + 1} characters")

    def text(self, pointer: str, obj: object, *, limit: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.fail(pointer, "must be an object")
            return
        kind = obj.get("type")
        allowed = {"plain_text"} if plain_only else TEXT_TYPES
        if kind not in allowed:
            self.fail(f"{pointer}/type", f"must be one of {sorted(allowed)}")
        value = obj.get("text")
        if not isinstance(value, str) or not value:
            self.fail(f"{pointer}/text", "must be more than 0 characters")
        else:
            self.max_len(f"{pointer}/text", value, limit)

    def element(self, pointer: str, element: object) -> None:
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            self.fail(pointer, "must be an object with a type")
            return
        self.max_len(f"{pointer}/action_id", element.get("action_id"), 255)
        if element["type"] == "button":
            self.text(f"{pointer}/text", element.get("text"), limit=75, plain_only=True)
            self.max_len(f"{pointer}/value", element.get("value"), 2000)
            self.max_len(f"{pointer}/url", element.get("url"), 3000)
            style = element.get("style")
            if style is not None and style not in ("primary", "danger"):
                self.fail(f"{pointer}/style", "must be one of [primary, danger]")
        if element["type"] == "plain_text_input":
            self.text_input(pointer, element)
        elif "placeholder" in element:
            self.text(f"{pointer}/placeholder", element["placeholder"], limit=150, plain_only=True)
        if element["type"] in OPTION_LIMITS:
            self.options(pointer, element)

    def text_input(self, pointer: str, element: dict[str, Any]) -> None:
        """plain_text_input: lengths between Slack's bounds, and an ``initial_value``
        that fits its own ``max_length`` (Slack refuses the view otherwise)."""
        if "placeholder" in element:
            self.text(f"{pointer}/placeholder", element["placeholder"], limit=150, plain_only=True)
        low, high = element.get("min_length"), element.get("max_length")
        if low is not None and (not isinstance(low, int) or not 0 <= low <= INPUT_LIMIT):
            self.fail(f"{pointer}/min_length", f"must be between 0 and {INPUT_LIMIT}")
        if high is not None and (not isinstance(high, int) or not 1 <= high <= INPUT_LIMIT):
            self.fail(f"{pointer}/max_length", f"must be between 1 and {INPUT_LIMIT}")
            high = None
        if isinstance(low, int) and isinstance(high, int) and low > high:
            self.fail(f"{pointer}/min_length", "must be less than or equal to max_length")
        initial = element.get("initial_value")
        if initial is not None and not isinstance(initial, str):
            self.fail(f"{pointer}/initial_value", "must be a string")
        else:
            self.max_len(f"{pointer}/initial_value", initial, high or INPUT_LIMIT)

    def options(self, pointer: str, element: dict[str, Any]) -> None:
        limit = OPTION_LIMITS[element["type"]]
        options = element.get("options", element.get("option_groups"))
        if not isinstance(options, list) or not options:
            self.fail(f"{pointer}/options", "must provide at least 1 option")
            return
        if len(options) > limit:
            self.fail(f"{pointer}/options", f"must provide no more than {limit} items")
        for index, option in enumerate(options):
            if isinstance(option, dict) and "options" not in option:
                where = f"{pointer}/options/{index}"
                self.text(f"{where}/text", option.get("text"), limit=75)
                self.max_len(f"{where}/value", option.get("value"), 150)

    def elements(self, pointer: str, elements: object, *, limit: int) -> None:
        if not isinstance(elements, list) or not elements:
            self.fail(pointer, "must provide at least 1 item")
            return
        if len(elements) > limit:
            self.fail(pointer, f"must provide no more than {limit} items")
        action_ids = [
            e.get("action_id") for e in elements if isinstance(e, dict) and e.get("action_id")
        ]
        if len(action_ids) != len(set(action_ids)):
            self.fail(pointer, "action_id values must be unique within a block")
        for index, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") in TEXT_TYPES:
                self.text(f"{pointer}/{index}", element, limit=3000)
            elif isinstance(element, dict) and element.get("type") == "image":
                continue
            else:
                self.element(f"{pointer}/{index}", element)

    def block(self, pointer: str, block: object) -> None:
        if not isinstance(block, dict):
            self.fail(pointer, "must be an object")
            return
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            self.fail(f"{pointer}/type", f"unsupported type: {kind}")
            return
        self.max_len(f"{pointer}/block_id", block.get("block_id"), 255)
        if kind == "section":
            self.section(pointer, block)
        elif kind == "header":
            self.text(f"{pointer}/text", block.get("text"), limit=150, plain_only=True)
        elif kind == "actions":
            self.elements(f"{pointer}/elements", block.get("elements"), limit=25)
        elif kind == "context":
            self.elements(f"{pointer}/elements", block.get("elements"), limit=10)
        elif kind == "input":
            self.text(f"{pointer}/label", block.get("label"), limit=2000, plain_only=True)
            if "hint" in block:
                self.text(f"{pointer}/hint", block["hint"], limit=2000, plain_only=True)
            self.element(f"{pointer}/element", block.get("element"))

    def section(self, pointer: str, block: dict[str, Any]) -> None:
        if "text" not in block and "fields" not in block:
            self.fail(pointer, "must contain either text or fields")
        if "text" in block:
            self.text(f"{pointer}/text", block["text"], limit=3000)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > 10:
                self.fail(f"{pointer}/fields", "must provide no more than 10 items")
            else:
                for index, item in enumerate(fields):
                    self.text(f"{pointer}/fields/{index}", item, limit=2000)
        if "accessory" in block:
            self.element(f"{pointer}/accessory", block["accessory"])

    def blocks(self, pointer: str, blocks: object, *, limit: int) -> None:
        if not isinstance(blocks, list):
            self.fail(pointer, "must be an array")
            return
        if len(blocks) > limit:
            self.fail(pointer, f"must provide no more than {limit} items")
        block_ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id")]
        if len(block_ids) != len(set(block_ids)):
            self.fail(pointer, "block_id values must be unique")
        for index, block in enumerate(blocks):
            self.block(f"{pointer}/{index}", block)


def message_block_errors(blocks: object) -> list[str]:
    """Errors for a message's ``blocks`` (empty list when valid)."""
    checker = _Checker()
    checker.blocks("/blocks", blocks, limit=MESSAGE_BLOCK_LIMIT)
    return checker.errors


def view_errors(view: object, *, home: bool = False) -> list[str]:
    """Errors for a view payload passed to views.open/push/update/publish."""
    checker = _Checker()
    if not isinstance(view, dict):
        checker.fail("/view", "must be an object")
        return checker.errors
    expected = "home" if home else "modal"
    if view.get("type") != expected:
        checker.fail("/view/type", f"must be {expected}")
    if not home:
        checker.text("/view/title", view.get("title"), limit=24, plain_only=True)
        for button in ("submit", "close"):
            if button in view:
                checker.text(f"/view/{button}", view[button], limit=24, plain_only=True)
        has_input = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or []
        )
        if has_input and "submit" not in view:
            checker.fail("/view", "submit is required when an input block is present")
    checker.blocks("/view/blocks", view.get("blocks"), limit=VIEW_BLOCK_LIMIT)
    checker.max_len("/view/private_metadata", view.get("private_metadata"), 3000)
    checker.max_len("/view/callback_id", view.get("callback_id"), 255)
    checker.max_len("/view/external_id", view.get("external_id"), 255)
    return checker.errors
