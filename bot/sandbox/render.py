"""Block Kit -> safe HTML, in Python, as Slack's client shows it: the sandbox page and
the author preview show the bot's real messages and views with this.

Blocks and messages are here; elements (buttons, selects, inputs, with the page's HTML
contract) in `elements.py`; Slack's mrkdwn and text objects in `mrkdwn.py`.
Everything from a payload is escaped, text and attributes alike; a block or element
this renderer does not know shows as a small note instead of breaking the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.sandbox.elements import Ctx, element, image
from bot.sandbox.mrkdwn import JSON, Directory, emojify, esc, link, mrkdwn, safe_url, text_object

__all__ = ["Directory", "mrkdwn", "render_blocks", "render_message", "text_object"]


def render_message(message: JSON, directory: Directory) -> str:
    """A message as Slack shows it: its blocks if any, else its `text` as mrkdwn, then
    its attachments (blocks or text, with a coloured bar)."""
    blocks = message.get("blocks") or []
    if blocks:
        body = render_blocks(blocks, directory)
    elif message.get("mrkdwn", True) is False:
        text = esc(str(message.get("text") or "")).replace("\n", "<br>")
        body = f'<div class="bk-text">{text}</div>'
    else:
        body = f'<div class="bk-text">{mrkdwn(str(message.get("text") or ""), directory)}</div>'
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


def _block(block: JSON, directory: Directory) -> str:
    kind = str(block.get("type", ""))
    block_id = str(block.get("block_id", ""))
    render = _BLOCKS.get(kind)
    if render is None:
        body = f"[unsupported block: {esc(kind)}]"
        kind = "unsupported"
    else:
        try:
            body = render(block, Ctx(block_id, directory, live=True))
        except (AttributeError, KeyError, TypeError, ValueError):
            # A malformed block (say, an author's preview) must not take the page down.
            body = f"[block Slack would refuse: {esc(kind)}]"
            kind = "unsupported"
    return f'<div class="bk-block bk-{esc(kind)}" data-block-id="{esc(block_id)}">{body}</div>'


def _header(block: JSON, ctx: Ctx) -> str:
    return f'<div class="bk-header-text">{text_object(block.get("text"), ctx.directory)}</div>'


def _section(block: JSON, ctx: Ctx) -> str:
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


def _context(block: JSON, ctx: Ctx) -> str:
    parts = []
    for el in block.get("elements") or []:
        if el.get("type") == "image":
            parts.append(image(el, "bk-context-img"))
        else:
            parts.append(f'<span class="bk-context-el">{text_object(el, ctx.directory)}</span>')
    return "".join(parts)


def _divider(block: JSON, ctx: Ctx) -> str:
    return "<hr>"


def _image(block: JSON, ctx: Ctx) -> str:
    title = block.get("title")
    out = f'<div class="bk-image-title">{text_object(title, ctx.directory)}</div>' if title else ""
    return out + image(block, "bk-image-img")


def _actions(block: JSON, ctx: Ctx) -> str:
    return "".join(element(el, ctx) for el in block.get("elements") or [])


def _input(block: JSON, ctx: Ctx) -> str:
    """Label, element, hint and an empty error slot the page fills from
    `response_action: errors`. The element is marked `data-required` unless optional,
    as Slack's client refuses to submit an empty required field."""
    dispatch = bool(block.get("dispatch_action"))
    required = not block.get("optional")
    label = text_object(block.get("label"), ctx.directory)
    if block.get("optional"):
        label += ' <span class="bk-optional">(optional)</span>'
    out = f'<label class="bk-label">{label}</label>'
    el = block.get("element") or {}
    out += element(
        el, Ctx(ctx.block_id, ctx.directory, live=dispatch, dispatch=dispatch, required=required)
    )
    if block.get("hint"):
        out += f'<div class="bk-hint">{text_object(block["hint"], ctx.directory)}</div>'
    return out + f'<div class="bk-error" data-block-id="{esc(ctx.block_id)}"></div>'


# -- rich_text -------------------------------------------------------------------------------


def _rich_text(block: JSON, ctx: Ctx) -> str:
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
        indent = part.get("indent") if isinstance(part.get("indent"), int) else 0
        start = part.get("offset", 0) + 1 if isinstance(part.get("offset"), int) else 1
        return f'<{tag} class="mk-list" data-indent="{indent}" start="{start}">{items}</{tag}>'
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
