"""Block Kit's elements as HTML: buttons, selects, pickers, choices and text inputs.

Each interactive element follows the page's HTML contract (see the sandbox plan):
class `bk-el`, `data-type`, `data-action-id`, `data-block-id`, and `data-value` on
buttons. Elements that send an action at once (in an actions block, a section's
accessory, an input with `dispatch_action`) also carry `data-live="1"`; the others
are form values the page reads when the modal is submitted.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.sandbox.mrkdwn import JSON, Directory, esc, plain_words, safe_url, text_object

# Radio groups need a name unique on the page, which shows many messages at once.
_radio_names = itertools.count(1)


@dataclass(frozen=True)
class Ctx:
    """Where an element is: its block's id, whether it is live, the names to show."""

    block_id: str
    directory: Directory
    live: bool
    dispatch: bool = False
    required: bool = False  # in an input block that is not optional


def image(el: JSON, cls: str) -> str:
    """An image element; an address that is not http(s) shows the alt text instead."""
    url = safe_url(str(el.get("image_url", "")))
    alt = esc(str(el.get("alt_text", "")))
    if url is None or url.startswith("mailto:"):
        return f'<span class="{cls} bk-img-missing">[{alt}]</span>'
    return f'<img class="{cls}" src="{esc(url)}" alt="{alt}" loading="lazy">'


def element(el: JSON, ctx: Ctx) -> str:
    """One block element as HTML; interactive ones follow the page's HTML contract."""
    kind = str(el.get("type", ""))
    render = _ELEMENTS.get(kind)
    if render is None:
        if kind == "image":
            return image(el, "bk-accessory-img")
        return f'<span class="bk-unsupported">[unsupported element: {esc(kind)}]</span>'
    return render(el, ctx)


def _attrs(el: JSON, ctx: Ctx, *, cls: str = "") -> str:
    """The contract's attributes: class, type, action and block ids, live/dispatch, confirm."""
    classes = f"bk-el {cls}".strip()
    out = (
        f'class="{esc(classes)}" data-type="{esc(str(el.get("type", "")))}" '
        f'data-action-id="{esc(str(el.get("action_id", "")))}" '
        f'data-block-id="{esc(ctx.block_id)}"'
    )
    if ctx.live:
        out += ' data-live="1"'
    if ctx.dispatch:
        out += ' data-dispatch="1"'
    if ctx.required:
        out += ' data-required="1"'
    if el.get("focus_on_load"):
        out += " autofocus"
    confirm = el.get("confirm")
    if isinstance(confirm, Mapping):
        shown = {
            key: plain_words(confirm.get(key))
            for key in ("title", "text", "confirm", "deny")
            if confirm.get(key)
        }
        out += f' data-confirm="{esc(json.dumps(shown, ensure_ascii=False))}"'
    return out


def _button(el: JSON, ctx: Ctx) -> str:
    style = el.get("style")
    cls = f"bk-button bk-{style}" if style in ("primary", "danger") else "bk-button"
    label = text_object(el.get("text"), ctx.directory)
    value = f' data-value="{esc(str(el["value"]))}"' if "value" in el else ""
    url = safe_url(str(el.get("url", ""))) if el.get("url") else None
    if url is not None:
        # Slack opens the address and also tells the app (a bot may count the click).
        return (
            f'<a {_attrs(el, ctx, cls=cls)}{value} href="{esc(url)}" target="_blank" '
            f'rel="noopener noreferrer">{label}</a>'
        )
    return f'<button type="button" {_attrs(el, ctx, cls=cls)}{value}>{label}</button>'


def _option_text(option: JSON) -> str:
    text = plain_words(option.get("text"))
    if option.get("description"):
        text += " — " + plain_words(option["description"])
    return text


def _option_tag(value: str, text: str, selected: bool) -> str:
    chosen = " selected" if selected else ""
    return f'<option value="{esc(value)}"{chosen}>{esc(text)}</option>'


def _static_options(el: JSON, chosen: set[str]) -> str:
    """Options (and option groups) of a static or external select."""
    out: list[str] = []

    def options(items: Iterable[JSON]) -> str:
        return "".join(
            _option_tag(str(o.get("value", "")), _option_text(o), str(o.get("value")) in chosen)
            for o in items
        )

    out.append(options(el.get("options") or []))
    for group in el.get("option_groups") or []:
        label = esc(plain_words(group.get("label")))
        out.append(f'<optgroup label="{label}">{options(group.get("options") or [])}</optgroup>')
    if not el.get("options") and not el.get("option_groups"):
        initial = [el["initial_option"]] if el.get("initial_option") else []
        out.append(options(initial + list(el.get("initial_options") or [])))
    return "".join(out)


def _chosen(el: JSON) -> set[str]:
    """The values initially selected in any kind of select."""
    values: set[str] = set()
    if isinstance(el.get("initial_option"), Mapping):
        values.add(str(el["initial_option"].get("value")))
    for option in el.get("initial_options") or []:
        values.add(str(option.get("value")))
    for key in ("initial_user", "initial_conversation", "initial_channel"):
        if el.get(key):
            values.add(str(el[key]))
    for key in ("initial_users", "initial_conversations", "initial_channels"):
        values.update(str(v) for v in el.get(key) or [])
    return values


def _select(el: JSON, ctx: Ctx) -> str:
    kind = str(el.get("type", ""))
    chosen = _chosen(el)
    multiple = kind.startswith("multi_")
    if kind.endswith("users_select"):
        names: Mapping[str, str] = ctx.directory.users
        body = _named_options(names, chosen)
    elif kind.endswith(("conversations_select", "channels_select")):
        body = _named_options(ctx.directory.channels, chosen, prefix="#")
    else:
        body = _static_options(el, chosen)
    placeholder = plain_words(el.get("placeholder")) or "Select an item"
    if not multiple and not chosen:
        body = f'<option value="" selected>{esc(placeholder)}</option>' + body
    extra = f' multiple data-placeholder="{esc(placeholder)}"' if multiple else ""
    return f"<select {_attrs(el, ctx)}{extra}>{body}</select>"


def _named_options(names: Mapping[str, str], chosen: set[str], prefix: str = "") -> str:
    """Users or conversations from the directory, by name; a chosen id it lacks still shows."""
    known = sorted(names.items(), key=lambda item: item[1].lower())
    missing = [(i, i) for i in sorted(chosen) if i not in names]
    return "".join(_option_tag(i, prefix + name, i in chosen) for i, name in known + missing)


def _overflow(el: JSON, ctx: Ctx) -> str:
    body = _option_tag("", "⋯", True) + _static_options(el, set())
    return f"<select {_attrs(el, ctx, cls='bk-overflow')}>{body}</select>"


def _choices(el: JSON, ctx: Ctx) -> str:
    """checkboxes and radio_buttons: one labelled input per option."""
    radio = el.get("type") == "radio_buttons"
    chosen = _chosen(el)
    name = f"bk-radio-{next(_radio_names)}" if radio else ""
    name_attr = f' name="{name}"' if radio else ""
    kind = "radio" if radio else "checkbox"
    rows = []
    for option in el.get("options") or []:
        value = str(option.get("value", ""))
        checked = " checked" if value in chosen else ""
        desc = option.get("description")
        desc_html = (
            f'<span class="bk-desc">{text_object(desc, ctx.directory)}</span>' if desc else ""
        )
        rows.append(
            f'<label class="bk-choice"><input type="{kind}"{name_attr} value="{esc(value)}"'
            f"{checked}> {text_object(option.get('text'), ctx.directory)}{desc_html}</label>"
        )
    return f"<div {_attrs(el, ctx)}>{''.join(rows)}</div>"


def _picker(el: JSON, ctx: Ctx) -> str:
    kind = el.get("type")
    if kind == "datepicker":
        html_type, value = "date", str(el.get("initial_date", ""))
    elif kind == "timepicker":
        html_type, value = "time", str(el.get("initial_time", ""))
    else:
        html_type, value = "datetime-local", ""
        if isinstance(el.get("initial_date_time"), int | float):
            moment = datetime.fromtimestamp(el["initial_date_time"], UTC)
            value = moment.strftime("%Y-%m-%dT%H:%M")
    return f'<input type="{html_type}" {_attrs(el, ctx)} value="{esc(value)}"{_placeholder(el)}>'


def _placeholder(el: JSON) -> str:
    text = plain_words(el.get("placeholder"))
    return f' placeholder="{esc(text)}"' if text else ""


_TEXT_TYPES = {
    "plain_text_input": "text",
    "email_text_input": "email",
    "url_text_input": "url",
    "number_input": "number",
}


def _text_input(el: JSON, ctx: Ctx) -> str:
    kind = str(el.get("type", ""))
    limits = ""
    for key, attr in (("max_length", "maxlength"), ("min_length", "minlength")):
        if isinstance(el.get(key), int):
            limits += f' {attr}="{el[key]}"'
    if kind == "number_input":
        limits += ' step="any"' if el.get("is_decimal_allowed") else ' step="1"'
        for key, attr in (("min_value", "min"), ("max_value", "max")):
            if el.get(key) is not None:
                limits += f' {attr}="{esc(str(el[key]))}"'
    value = str(el.get("initial_value", ""))
    if el.get("multiline") or kind == "rich_text_input":
        # A browser drops a newline right after <textarea>: keep one the text starts with.
        first = "\n" if value.startswith("\n") else ""
        return (
            f'<textarea {_attrs(el, ctx)}{limits}{_placeholder(el)} rows="4">'
            f"{first}{esc(value)}</textarea>"
        )
    html_type = _TEXT_TYPES.get(kind, "text")
    return (
        f'<input type="{html_type}" {_attrs(el, ctx)}{limits}{_placeholder(el)}'
        f' value="{esc(value)}">'
    )


_SELECTS = (
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
)
_ELEMENTS = {
    "button": _button,
    "overflow": _overflow,
    "checkboxes": _choices,
    "radio_buttons": _choices,
    "datepicker": _picker,
    "timepicker": _picker,
    "datetimepicker": _picker,
    "plain_text_input": _text_input,
    "email_text_input": _text_input,
    "url_text_input": _text_input,
    "number_input": _text_input,
    "rich_text_input": _text_input,
    **{kind: _select for kind in _SELECTS},
    **{f"multi_{kind}": _select for kind in _SELECTS},
}
