"""Block Kit -> safe HTML, in Python, as Slack's client shows it: the sandbox page and
the author preview show the bot's real messages and views with this.

Interactive elements carry what the page needs to answer like Slack's client does
(`bk-el`, `data-type`, `data-action-id`, `data-block-id`, `data-value`; see the HTML
contract in the sandbox plan). Elements that send an action at once (in an actions
block, a section's accessory, an input with `dispatch_action`) also carry
`data-live="1"`; the others are read when the modal is submitted.

Everything from a payload is escaped, text and attributes alike; an element or block
this renderer does not know shows as a small note instead of breaking the page.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.sandbox.mrkdwn import Directory, emojify, esc, link, mrkdwn, safe_url

__all__ = ["Directory", "mrkdwn", "render_blocks", "render_message", "text_object"]

JSON = Mapping[str, Any]

# Radio groups need a name unique on the page, which shows many messages at once.
_radio_names = itertools.count(1)


def text_object(obj: JSON | None, directory: Directory) -> str:
    """A plain_text or mrkdwn text object as HTML ("" for None)."""
    if not obj:
        return ""
    text = str(obj.get("text", ""))
    if obj.get("type") == "mrkdwn":
        return mrkdwn(text, directory, autolink=not obj.get("verbatim", False))
    if obj.get("emoji", True):
        text = emojify(text)
    return esc(text).replace("\n", "<br>")


def _plain(obj: JSON | None) -> str:
    """A text object's words as plain text (for attributes and <option>s)."""
    if not obj:
        return ""
    text = str(obj.get("text", ""))
    return emojify(text) if obj.get("emoji", True) or obj.get("type") == "mrkdwn" else text


def render_message(message: JSON, directory: Directory) -> str:
    """A message as Slack shows it: its blocks if any, else its `text` as mrkdwn, then
    its attachments (blocks or text, with a coloured bar)."""
    blocks = message.get("blocks") or []
    if blocks:
        body = render_blocks(blocks, directory)
    elif message.get("mrkdwn", True) is False:
        text = esc(str(message.get("text", ""))).replace("\n", "<br>")
        body = f'<div class="bk-text">{text}</div>'
    else:
        body = f'<div class="bk-text">{mrkdwn(str(message.get("text", "")), directory)}</div>'
    return body + "".join(_attachment(a, directory) for a in message.get("attachments") or [])


_COLORS = {"good": "#2eb67d", "warning": "#ecb22e", "danger": "#e01e5a"}


def _attachment(attachment: JSON, directory: Directory) -> str:
    color = str(attachment.get("color", ""))
    color = _COLORS.get(color, color if _is_hex_color(color) else "#dddddd")
    parts: list[str] = []
    if attachment.get("pretext"):
        parts.append(f'<div class="bk-text">{mrkdwn(str(attachment["pretext"]), directory)}</div>')
    if attachment.get("title"):
        title = esc(str(attachment["title"]))
        url = safe_url(str(attachment.get("title_link", "")))
        parts.append(f'<div class="bk-att-title">{link(url, title) if url else title}</div>')
    if attachment.get("blocks"):
        parts.append(render_blocks(attachment["blocks"], directory))
    elif attachment.get("text"):
        parts.append(f'<div class="bk-text">{mrkdwn(str(attachment["text"]), directory)}</div>')
    for f in attachment.get("fields") or []:
        parts.append(
            f'<div class="bk-field"><b>{esc(str(f.get("title", "")))}</b><br>'
            f"{mrkdwn(str(f.get('value', '')), directory)}</div>"
        )
    if attachment.get("footer"):
        parts.append(
            f'<div class="bk-context">{mrkdwn(str(attachment["footer"]), directory)}</div>'
        )
    return (
        f'<div class="bk-attachment" style="border-left: 4px solid {color}">{"".join(parts)}</div>'
    )


def _is_hex_color(color: str) -> bool:
    digits = color.removeprefix("#")
    return (
        color.startswith("#")
        and len(digits) in (3, 6)
        and all(c in "0123456789abcdefABCDEF" for c in digits)
    )


def render_blocks(blocks: Sequence[JSON], directory: Directory, *, surface: str = "message") -> str:
    """Blocks as HTML, in a `<div class="bk-blocks" data-surface=...>`; `surface` is
    "message", "modal" or "home"."""
    inner = "".join(_block(b, directory) for b in blocks if isinstance(b, Mapping))
    return f'<div class="bk-blocks" data-surface="{esc(surface)}">{inner}</div>'


@dataclass(frozen=True)
class _Ctx:
    """Where an element is: its block's id, whether it is live, the names to show."""

    block_id: str
    directory: Directory
    live: bool
    dispatch: bool = False


def _block(block: JSON, directory: Directory) -> str:
    kind = str(block.get("type", ""))
    block_id = str(block.get("block_id", ""))
    render = _BLOCKS.get(kind)
    if render is None:
        body = f"[unsupported block: {esc(kind)}]"
        kind = "unsupported"
    else:
        body = render(block, _Ctx(block_id, directory, live=True))
    return f'<div class="bk-block bk-{esc(kind)}" data-block-id="{esc(block_id)}">{body}</div>'


def _header(block: JSON, ctx: _Ctx) -> str:
    return f'<div class="bk-header-text">{text_object(block.get("text"), ctx.directory)}</div>'


def _section(block: JSON, ctx: _Ctx) -> str:
    body = ""
    if block.get("text"):
        body += f'<div class="bk-text">{text_object(block["text"], ctx.directory)}</div>'
    if block.get("fields"):
        fields = "".join(
            f'<div class="bk-field">{text_object(f, ctx.directory)}</div>' for f in block["fields"]
        )
        body += f'<div class="bk-fields">{fields}</div>'
    out = f'<div class="bk-section-body">{body}</div>'
    if block.get("accessory"):
        out += f'<div class="bk-accessory">{element(block["accessory"], ctx)}</div>'
    return out


def _context(block: JSON, ctx: _Ctx) -> str:
    parts = []
    for el in block.get("elements") or []:
        if el.get("type") == "image":
            parts.append(_img(el, "bk-context-img"))
        else:
            parts.append(f'<span class="bk-context-el">{text_object(el, ctx.directory)}</span>')
    return "".join(parts)


def _divider(block: JSON, ctx: _Ctx) -> str:
    return "<hr>"


def _image(block: JSON, ctx: _Ctx) -> str:
    title = block.get("title")
    out = f'<div class="bk-image-title">{text_object(title, ctx.directory)}</div>' if title else ""
    return out + _img(block, "bk-image-img")


def _img(el: JSON, cls: str) -> str:
    url = safe_url(str(el.get("image_url", "")))
    alt = esc(str(el.get("alt_text", "")))
    if url is None or url.startswith("mailto:"):
        return f'<span class="{cls} bk-img-missing">[{alt}]</span>'
    return f'<img class="{cls}" src="{esc(url)}" alt="{alt}" loading="lazy">'


def _actions(block: JSON, ctx: _Ctx) -> str:
    return "".join(element(el, ctx) for el in block.get("elements") or [])


def _input(block: JSON, ctx: _Ctx) -> str:
    dispatch = bool(block.get("dispatch_action"))
    label = text_object(block.get("label"), ctx.directory)
    if block.get("optional"):
        label += ' <span class="bk-optional">(optional)</span>'
    out = f'<label class="bk-label">{label}</label>'
    el = block.get("element") or {}
    out += element(el, _Ctx(ctx.block_id, ctx.directory, live=dispatch, dispatch=dispatch))
    if block.get("hint"):
        out += f'<div class="bk-hint">{text_object(block["hint"], ctx.directory)}</div>'
    return out + f'<div class="bk-error" data-block-id="{esc(ctx.block_id)}"></div>'


# -- rich_text -------------------------------------------------------------------------------


def _rich_text(block: JSON, ctx: _Ctx) -> str:
    return "".join(_rich_part(part, ctx.directory) for part in block.get("elements") or [])


def _rich_part(part: JSON, directory: Directory) -> str:
    kind = part.get("type")
    inner = _rich_inline(part.get("elements") or [], directory)
    if kind == "rich_text_section":
        return f'<div class="bk-rt-section">{inner}</div>'
    if kind == "rich_text_quote":
        return f'<blockquote class="mk-quote">{inner}</blockquote>'
    if kind == "rich_text_preformatted":
        return f'<pre class="mk-pre">{inner}</pre>'
    if kind == "rich_text_list":
        tag = "ol" if part.get("style") == "ordered" else "ul"
        items = "".join(
            f"<li>{_rich_inline(item.get('elements') or [], directory)}</li>"
            for item in part.get("elements") or []
        )
        indent = int(part.get("indent", 0) or 0)
        return f'<{tag} class="mk-list" data-indent="{indent}">{items}</{tag}>'
    return f'<span class="bk-unsupported">[unsupported rich text: {esc(str(kind))}]</span>'


def _rich_inline(elements: Iterable[JSON], directory: Directory) -> str:
    return "".join(_styled(_rich_element(el, directory), el.get("style")) for el in elements)


def _rich_element(el: JSON, directory: Directory) -> str:
    kind = el.get("type")
    if kind == "text":
        return esc(str(el.get("text", ""))).replace("\n", "<br>")
    if kind == "link":
        label = esc(str(el.get("text") or el.get("url", "")))
        url = safe_url(str(el.get("url", "")))
        return link(url, label) if url else label
    if kind == "user":
        name = directory.user(str(el.get("user_id", "")))
        return f'<span class="mk-mention">@{esc(name)}</span>'
    if kind == "channel":
        name = directory.channel(str(el.get("channel_id", "")))
        return f'<span class="mk-channel">#{esc(name)}</span>'
    if kind == "usergroup":
        return f'<span class="mk-mention">@{esc(str(el.get("usergroup_id", "")))}</span>'
    if kind == "broadcast":
        return f'<span class="mk-mention mk-broadcast">@{esc(str(el.get("range", "")))}</span>'
    if kind == "emoji":
        shown = _unicode_emoji(el) or emojify(f":{el.get('name', '')}:")
        return f'<span class="mk-emoji">{esc(shown)}</span>'
    if kind == "date":
        return f'<span class="mk-date">{esc(str(el.get("fallback", "")))}</span>'
    return f'<span class="bk-unsupported">[{esc(str(kind))}]</span>'


def _unicode_emoji(el: JSON) -> str:
    try:
        return "".join(chr(int(h, 16)) for h in str(el.get("unicode", "")).split("-") if h)
    except ValueError:
        return ""


def _styled(html_text: str, style: Any) -> str:
    if not isinstance(style, Mapping):
        return html_text
    for key, tag in (("code", "code"), ("strike", "s"), ("italic", "i"), ("bold", "b")):
        if style.get(key):
            cls = ' class="mk-code"' if key == "code" else ""
            html_text = f"<{tag}{cls}>{html_text}</{tag}>"
    return html_text


# -- elements --------------------------------------------------------------------------------


def element(el: JSON, ctx: _Ctx) -> str:
    """One block element as HTML; interactive ones follow the page's HTML contract."""
    kind = str(el.get("type", ""))
    render = _ELEMENTS.get(kind)
    if render is None:
        if kind == "image":
            return _img(el, "bk-accessory-img")
        return f'<span class="bk-unsupported">[unsupported element: {esc(kind)}]</span>'
    return render(el, ctx)


def _attrs(el: JSON, ctx: _Ctx, *, cls: str = "") -> str:
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
    if el.get("focus_on_load"):
        out += " autofocus"
    confirm = el.get("confirm")
    if isinstance(confirm, Mapping):
        shown = {
            key: _plain(confirm.get(key))
            for key in ("title", "text", "confirm", "deny")
            if confirm.get(key)
        }
        out += f' data-confirm="{esc(json.dumps(shown, ensure_ascii=False))}"'
    return out


def _button(el: JSON, ctx: _Ctx) -> str:
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
    text = _plain(option.get("text"))
    if option.get("description"):
        text += " — " + _plain(option["description"])
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
        label = esc(_plain(group.get("label")))
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


def _select(el: JSON, ctx: _Ctx) -> str:
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
    placeholder = _plain(el.get("placeholder")) or "Select an item"
    if not multiple and not chosen:
        body = f'<option value="" selected>{esc(placeholder)}</option>' + body
    extra = f' multiple data-placeholder="{esc(placeholder)}"' if multiple else ""
    return f"<select {_attrs(el, ctx)}{extra}>{body}</select>"


def _named_options(names: Mapping[str, str], chosen: set[str], prefix: str = "") -> str:
    """Users or conversations from the directory, by name; a chosen id it lacks still shows."""
    known = sorted(names.items(), key=lambda item: item[1].lower())
    missing = [(i, i) for i in sorted(chosen) if i not in names]
    return "".join(_option_tag(i, prefix + name, i in chosen) for i, name in known + missing)


def _overflow(el: JSON, ctx: _Ctx) -> str:
    body = _option_tag("", "⋯", True) + _static_options(el, set())
    return f"<select {_attrs(el, ctx, cls='bk-overflow')}>{body}</select>"


def _choices(el: JSON, ctx: _Ctx) -> str:
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


def _picker(el: JSON, ctx: _Ctx) -> str:
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
    text = _plain(el.get("placeholder"))
    return f' placeholder="{esc(text)}"' if text else ""


_TEXT_TYPES = {
    "plain_text_input": "text",
    "email_text_input": "email",
    "url_text_input": "url",
    "number_input": "number",
}


def _text_input(el: JSON, ctx: _Ctx) -> str:
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
        return (
            f'<textarea {_attrs(el, ctx)}{limits}{_placeholder(el)} rows="4">'
            f"{esc(value)}</textarea>"
        )
    html_type = _TEXT_TYPES.get(kind, "text")
    return (
        f'<input type="{html_type}" {_attrs(el, ctx)}{limits}{_placeholder(el)}'
        f' value="{esc(value)}">'
    )


_BLOCKS = {
    "header": _header,
    "section": _section,
    "context": _context,
    "divider": _divider,
    "image": _image,
    "actions": _actions,
    "input": _input,
    "rich_text": _rich_text,
}

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
