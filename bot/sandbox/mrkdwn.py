"""Slack mrkdwn -> safe HTML, as Slack's client shows it.

Slack stores message text with `&`, `<` and `>` escaped, and uses real angle brackets
only for its own markup (links, mentions). So the text is read in two passes: the
markup (`<...>`, code, *bold* …) is found in the raw text, and every piece of text
between is decoded once and escaped again for HTML. Nothing a person typed can become
a tag or an attribute, and only http, https and mailto addresses become links.

The sandbox page shows this HTML inside its own markup; `render.py` builds Block Kit
on top of it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

# The shortcodes a bot (and its program authors) most often write. Slack knows
# thousands; an unknown one stays as typed, as Slack shows a custom emoji it lacks.
EMOJI: Mapping[str, str] = {
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "ballot_box_with_check": "☑️",
    "x": "❌",
    "negative_squared_cross_mark": "❎",
    "warning": "⚠️",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "exclamation": "❗",
    "question": "❓",
    "grey_question": "❔",
    "bangbang": "‼️",
    "tada": "🎉",
    "confetti_ball": "🎊",
    "wave": "👋",
    "+1": "👍",
    "thumbsup": "👍",
    "-1": "👎",
    "thumbsdown": "👎",
    "clap": "👏",
    "raised_hands": "🙌",
    "pray": "🙏",
    "muscle": "💪",
    "point_right": "👉",
    "point_left": "👈",
    "point_up": "☝️",
    "point_down": "👇",
    "ok_hand": "👌",
    "eyes": "👀",
    "brain": "🧠",
    "smile": "😄",
    "smiley": "😃",
    "grinning": "😀",
    "slightly_smiling_face": "🙂",
    "blush": "😊",
    "wink": "😉",
    "joy": "😂",
    "sweat_smile": "😅",
    "thinking_face": "🤔",
    "neutral_face": "😐",
    "confused": "😕",
    "disappointed": "😞",
    "cry": "😢",
    "scream": "😱",
    "sunglasses": "😎",
    "heart": "❤️",
    "heart_eyes": "😍",
    "star": "⭐",
    "star2": "🌟",
    "sparkles": "✨",
    "fire": "🔥",
    "rocket": "🚀",
    "zap": "⚡",
    "bulb": "💡",
    "memo": "📝",
    "pencil": "📝",
    "pencil2": "✏️",
    "books": "📚",
    "book": "📖",
    "open_book": "📖",
    "bookmark": "🔖",
    "calendar": "📆",
    "date": "📅",
    "spiral_calendar_pad": "🗓️",
    "clock1": "🕐",
    "alarm_clock": "⏰",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "stopwatch": "⏱️",
    "bell": "🔔",
    "no_bell": "🔕",
    "mega": "📣",
    "loudspeaker": "📢",
    "speech_balloon": "💬",
    "thought_balloon": "💭",
    "email": "📧",
    "envelope": "✉️",
    "inbox_tray": "📥",
    "outbox_tray": "📤",
    "mailbox": "📫",
    "bar_chart": "📊",
    "chart_with_upwards_trend": "📈",
    "chart_with_downwards_trend": "📉",
    "clipboard": "📋",
    "pushpin": "📌",
    "round_pushpin": "📍",
    "paperclip": "📎",
    "link": "🔗",
    "lock": "🔒",
    "unlock": "🔓",
    "key": "🔑",
    "mag": "🔍",
    "gear": "⚙️",
    "wrench": "🔧",
    "hammer_and_wrench": "🛠️",
    "scissors": "✂️",
    "dart": "🎯",
    "trophy": "🏆",
    "medal": "🏅",
    "sports_medal": "🏅",
    "first_place_medal": "🥇",
    "seedling": "🌱",
    "herb": "🌿",
    "sun_with_face": "🌞",
    "sunny": "☀️",
    "coffee": "☕",
    "pause_button": "⏸️",
    "arrow_forward": "▶️",
    "fast_forward": "⏩",
    "repeat": "🔁",
    "arrows_counterclockwise": "🔄",
    "arrow_right": "➡️",
    "arrow_left": "⬅️",
    "arrow_up": "⬆️",
    "arrow_down": "⬇️",
    "heavy_plus_sign": "➕",
    "heavy_minus_sign": "➖",
    "red_circle": "🔴",
    "large_green_circle": "🟢",
    "large_yellow_circle": "🟡",
    "large_blue_circle": "🔵",
    "white_circle": "⚪",
    "black_circle": "⚫",
    "large_orange_diamond": "🔶",
    "small_blue_diamond": "🔹",
    "construction": "🚧",
    "rotating_light": "🚨",
    "sos": "🆘",
    "information_source": "ℹ️",
    "handshake": "🤝",
    "busts_in_silhouette": "👥",
    "bust_in_silhouette": "👤",
    "man_teacher": "👨‍🏫",
    "woman_teacher": "👩‍🏫",
    "mortar_board": "🎓",
    "robot_face": "🤖",
    "zzz": "💤",
    "100": "💯",
    "moneybag": "💰",
    "gift": "🎁",
    "balloon": "🎈",
    "skull": "💀",
    "ghost": "👻",
    "see_no_evil": "🙈",
    "face_with_rolling_eyes": "🙄",
    "partying_face": "🥳",
    "hugging_face": "🤗",
    "raising_hand": "🙋",
    "crystal_ball": "🔮",
    "test_tube": "🧪",
    "jigsaw": "🧩",
    "compass": "🧭",
    "world_map": "🗺️",
    "earth_africa": "🌍",
    "palm_tree": "🌴",
    "desert_island": "🏝️",
    "island": "🏝️",
    "beach_with_umbrella": "🏖️",
    "airplane": "✈️",
    "airplane_departure": "🛫",
    "luggage": "🧳",
    "thermometer": "🌡️",
    "face_with_thermometer": "🤒",
    "stop_sign": "🛑",
    "wastebasket": "🗑️",
    "floppy_disk": "💾",
    "white_medium_square": "◻️",
    "white_large_square": "⬜",
    "skin-tone-2": "\U0001f3fb",
    "skin-tone-3": "\U0001f3fc",
    "skin-tone-4": "\U0001f3fd",
    "skin-tone-5": "\U0001f3fe",
    "skin-tone-6": "\U0001f3ff",
    "globe_with_meridians": "🌐",
}

JSON = Mapping[str, Any]

SAFE_SCHEMES = ("http://", "https://", "mailto:")

# One piece of inline markup, found in the raw (still Slack-escaped) text.
_INLINE = re.compile(
    r"(?P<code>`[^`\n]+`)"
    r"|(?P<angle><[^<>\n]+>)"
    r"|(?P<style>(?<![\w*_~])(?P<mark>[*_~])(?=\S)(?P<inner>[^\n]*?[^\s])(?P=mark)(?![\w]))"
    r"|(?P<emoji>:(?P<name>[a-z0-9_+\-']+):)"
    r"|(?P<url>\bhttps?://[^\s<>]*[^\s<>.,;:!?)\]'\"])"
)
_STYLE_TAGS = {"*": "b", "_": "i", "~": "s"}
_QUOTE = re.compile(r"^(?:&gt;|>)\s?(.*)$")
_QUOTE_REST = re.compile(r"^(?:&gt;|>){3}\s?(.*)$")
_BULLET = re.compile(r"^\s*[•◦▪\-]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*(\d{1,3})[.)]\s+(.*)$")
_PRE = re.compile(r"```(.+?)```", re.DOTALL)


@dataclass(frozen=True)
class Directory:
    """Names to show for ids: `<@U123>` shows as "@Name", and user and conversation
    selects list these. An unknown id shows as itself, as Slack does for a deleted user."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    EMPTY: ClassVar[Directory]

    def user(self, user_id: str) -> str:
        return self.users.get(user_id, user_id)

    def channel(self, channel_id: str) -> str:
        return self.channels.get(channel_id, channel_id)


Directory.EMPTY = Directory()


def esc(text: str) -> str:
    """Text (or an attribute value) made safe for HTML."""
    return html.escape(text, quote=True)


def unescape(text: str) -> str:
    """Slack's three escapes decoded once: `&amp;lt;` stays `&lt;` as typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def safe_url(url: str) -> str | None:
    """The address decoded, or None when it must not become a link (javascript: …)."""
    decoded = unescape(url).strip()
    return decoded if decoded.lower().startswith(SAFE_SCHEMES) else None


def link(url: str, label_html: str) -> str:
    return f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{label_html}</a>'


def emojify(text: str) -> str:
    """Known `:shortcodes:` in plain (not yet escaped) text replaced by their emoji."""
    return re.sub(r":([a-z0-9_+\-']+):", lambda m: EMOJI.get(m.group(1), m.group(0)), text)


def mrkdwn(text: str, directory: Directory, *, autolink: bool = True) -> str:
    """Slack mrkdwn as HTML. `autolink`: bare http(s) addresses become links, as Slack
    does unless a text object is `verbatim`."""
    out: list[str] = []
    pos = 0
    for match in _PRE.finditer(text):
        out.append(_lines(text[pos : match.start()].removesuffix("\n"), directory, autolink))
        body = match.group(1).removeprefix("\n").removesuffix("\n")
        out.append(f'<pre class="mk-pre">{_literal(body, directory)}</pre>')
        pos = match.end()
        if text.startswith("\n", pos):
            pos += 1
    out.append(_lines(text[pos:], directory, autolink))
    return "".join(out)


def _lines(text: str, directory: Directory, autolink: bool) -> str:
    """Line-level markup: quotes, bullet and numbered lists, the rest joined by <br>."""
    if not text:
        return ""
    out: list[str] = []
    group: list[str] = []
    kind = ""
    start = "1"

    def flush() -> None:
        if not group:
            return
        if kind == "quote":
            out.append(f'<blockquote class="mk-quote">{"<br>".join(group)}</blockquote>')
        elif kind == "ul":
            out.append('<ul class="mk-list">' + "".join(f"<li>{i}</li>" for i in group) + "</ul>")
        elif kind == "ol":
            items = "".join(f"<li>{i}</li>" for i in group)
            out.append(f'<ol class="mk-list" start="{esc(start)}">{items}</ol>')
        else:
            out.append("<br>".join(group))
        group.clear()

    rest_quoted = False
    for line in text.split("\n"):
        if rest_quoted:  # after `>>>`, every line is quoted
            m, line_kind, body = None, "quote", line
        elif m := _QUOTE_REST.match(line):
            rest_quoted, line_kind, body = True, "quote", m.group(1)
        elif m := _QUOTE.match(line):
            line_kind, body = "quote", m.group(1)
        elif m := _BULLET.match(line):
            line_kind, body = "ul", m.group(1)
        elif m := _NUMBERED.match(line):
            line_kind, body = "ol", m.group(2)
        else:
            line_kind, body = "text", line
        if line_kind != kind:
            flush()
            kind = line_kind
            if m is not None and line_kind == "ol":
                start = m.group(1)
        group.append(inline(body, directory, autolink=autolink))
    flush()
    return "".join(out)


def inline(text: str, directory: Directory, *, autolink: bool = True) -> str:
    """Inline markup of one line: code, links and mentions, *bold* _italic_ ~strike~, emoji."""
    out: list[str] = []
    pos = 0
    while (match := _INLINE.search(text, pos)) is not None:
        piece = _inline_piece(match, directory, autolink)
        if piece is None:  # not markup after all: its first character is text
            out.append(esc(unescape(text[pos : match.start() + 1])))
            pos = match.start() + 1
            continue
        out.append(esc(unescape(text[pos : match.start()])))
        out.append(piece)
        pos = match.end()
    out.append(esc(unescape(text[pos:])))
    return "".join(out)


def _inline_piece(match: re.Match[str], directory: Directory, autolink: bool) -> str | None:
    if code := match.group("code"):
        return f'<code class="mk-code">{_literal(code[1:-1], directory)}</code>'
    if angle := match.group("angle"):
        return _angle(angle[1:-1], directory, as_link=True)
    if match.group("style"):
        tag = _STYLE_TAGS[match.group("mark")]
        return f"<{tag}>{inline(match.group('inner'), directory, autolink=autolink)}</{tag}>"
    if match.group("emoji"):
        found = EMOJI.get(match.group("name"))
        return f'<span class="mk-emoji">{found}</span>' if found else None
    url = match.group("url")
    if url and autolink:
        return link(unescape(url), esc(unescape(url)))
    return None


def _literal(text: str, directory: Directory) -> str:
    """Code: no formatting, no emoji; Slack's links and mentions show as their text."""
    out: list[str] = []
    pos = 0
    for match in re.finditer(r"<([^<>\n]+)>", text):
        out.append(esc(unescape(text[pos : match.start()])))
        out.append(_angle(match.group(1), directory, as_link=False))
        pos = match.end()
    out.append(esc(unescape(text[pos:])))
    return "".join(out)


def _angle(body: str, directory: Directory, *, as_link: bool) -> str:
    """Slack's `<...>` markup: a mention, a special mention, a date or a link."""
    target, _, label = body.partition("|")
    if target.startswith("@"):
        name = directory.users.get(target[1:]) or unescape(label) or target[1:]
        return f'<span class="mk-mention">@{esc(name)}</span>'
    if target.startswith("#"):
        name = directory.channels.get(target[1:]) or unescape(label) or target[1:]
        return f'<span class="mk-channel">#{esc(name)}</span>'
    if target.startswith("!"):
        return _special(target[1:], label)
    url = safe_url(target)
    if url is None and not label:  # not Slack's markup: the brackets were typed
        return esc(unescape(f"<{body}>"))
    shown = esc(emojify(unescape(label)) if label else unescape(target))
    if url is None or not as_link:
        return shown
    return link(url, shown)


def _special(command: str, label: str) -> str:
    """`<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^S1|@team>`, `<!date^…|fallback>`."""
    if command in ("here", "channel", "everyone"):
        return f'<span class="mk-mention mk-broadcast">@{command}</span>'
    if command.startswith("subteam^"):
        name = unescape(label) or "@" + command.removeprefix("subteam^")
        return f'<span class="mk-mention">{esc(name)}</span>'
    if command.startswith("date^"):
        return f'<span class="mk-date">{esc(unescape(label))}</span>'
    return esc(unescape(label or command))


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


def plain_words(obj: JSON | None) -> str:
    """A text object's words as plain text, for attributes and <option>s."""
    if not obj:
        return ""
    text = str(obj.get("text", ""))
    return emojify(text) if obj.get("emoji", True) or obj.get("type") == "mrkdwn" else text
