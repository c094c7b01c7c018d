"""The sandbox renderer: Block Kit and mrkdwn show as Slack's client shows them, every
interactive element carries what the page needs to answer, and nothing in a payload
can become markup."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.content.blocks import step_message
from bot.content.loader import load_library
from bot.intake.blocks import form_view
from bot.premortem.blocks import parent_blocks, status_actions
from bot.premortem.modals import decision_modal
from bot.premortem.models import Phase, Premortem, Prevention, Risk
from bot.proof.blocks import fatigue_dm, not_relevant_modal, reflection_modal
from bot.proof.home import HomeData, LeadData, NudgeLine, ProgramLine, StepAdoption
from bot.proof.home_blocks import enroll_modal, home_view, preferences_modal
from bot.sandbox.render import Directory, mrkdwn, render_blocks, render_message, text_object
from tests.content.conftest import STARTER_DIR

PEOPLE = Directory(
    users={"U1": "Ana Petrova", "U2": "Ben Ode", "U3": "Chen <Li>"},
    channels={"C1": "sales", "C2": "ld-triage"},
)


# -- a small DOM, so tests read what a browser would show ---------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        found: list[Node] = []
        for child in self.children:
            if isinstance(child, str):
                continue
            if (
                (tag is None or child.tag == tag)
                and (cls is None or cls in child.classes)
                and all(child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
            ):
                found.append(child)
            found += child.all(tag, cls, **attrs)
        return found

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, cls, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} class={cls} {attrs}> in {self}"
        return found[0]


VOID = {"br", "hr", "img", "input", "meta", "link"}


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def dom(html_text: str) -> Node:
    builder = _Builder()
    builder.feed(html_text)
    builder.close()
    assert builder.stack == [builder.root], "unclosed tags"
    return builder.root


def blocks(*given: dict[str, Any], surface: str = "message") -> Node:
    return dom(render_blocks(list(given), PEOPLE, surface=surface))


def md(text: str) -> Node:
    return dom(mrkdwn(text, PEOPLE))


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def mk(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def option(text: str, value: str, description: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"text": plain(text), "value": value}
    if description:
        out["description"] = plain(description)
    return out


def actions(*elements: dict[str, Any]) -> Node:
    return blocks({"type": "actions", "block_id": "act", "elements": list(elements)})


def input_block(element: dict[str, Any], **extra: Any) -> Node:
    block = {"type": "input", "block_id": "in", "label": plain("Your answer"), "element": element}
    return blocks({**block, **extra}, surface="modal")


# -- mrkdwn ---------------------------------------------------------------------------------


def test_bold_italic_strike_show_as_such() -> None:
    page = md("*Done* _soon_ ~never~")
    assert page.one("b").text == "Done"
    assert page.one("i").text == "soon"
    assert page.one("s").text == "never"


def test_styles_nest_and_need_word_boundaries() -> None:
    page = md("*_both_* and snake_case_name and 2*3*4")
    assert page.one("b").one("i").text == "both"
    assert "snake_case_name" in page.text and "2*3*4" in page.text


def test_code_shows_its_text_unformatted() -> None:
    page = md("run `/nudges *help* :tada:` now")
    code = page.one("code")
    assert code.text == "/nudges *help* :tada:"
    assert page.all("b") == []


def test_preformatted_block_keeps_lines_and_markup_as_text() -> None:
    page = md("Try:\n```line *one*\n_line two_```\nthen")
    pre = page.one("pre")
    assert pre.text == "line *one*\n_line two_"
    assert page.all("b") == [] and page.all("i") == []
    assert page.text == "Try:" + pre.text + "then"


@pytest.mark.parametrize("marker", [">", "&gt;"])
def test_line_leading_quotes_become_one_quote(marker: str) -> None:
    page = md(f"Said:\n{marker} first\n{marker} second\nafter")
    quote = page.one("blockquote")
    assert quote.text == "firstsecond" and len(quote.all("br")) == 1
    assert "after" in page.text and "after" not in quote.text


def test_triple_quote_marker_quotes_every_following_line() -> None:
    page = md("Before\n&gt;&gt;&gt; one\ntwo\n• three")
    quote = page.one("blockquote")
    assert quote.text == "onetwo• three" and "Before" not in quote.text


@pytest.mark.parametrize("bullet", ["• ", "- "])
def test_bullet_lines_become_a_list(bullet: str) -> None:
    page = md(f"Steps:\n{bullet}one\n{bullet}*two*")
    items = page.one("ul").all("li")
    assert [i.text for i in items] == ["one", "two"]
    assert items[1].one("b").text == "two"


def test_numbered_lines_become_an_ordered_list() -> None:
    page = md("1. first\n2. second")
    assert [i.text for i in page.one("ol").all("li")] == ["first", "second"]


def test_links_with_and_without_label_open_in_a_new_tab() -> None:
    page = md("<https://example.com/a?x=1&amp;y=2|the guide> and <https://example.com/b>")
    first, second = page.all("a")
    assert first.text == "the guide"
    assert first.attrs["href"] == "https://example.com/a?x=1&y=2"
    assert first.attrs["target"] == "_blank" and "noopener" in str(first.attrs["rel"])
    assert second.text == second.attrs["href"] == "https://example.com/b"


def test_mailto_links_but_a_javascript_address_never_becomes_a_link() -> None:
    page = md("<mailto:ld@example.com|mail us> <javascript:alert(1)|click> <javascript:alert(2)>")
    assert [a.attrs["href"] for a in page.all("a")] == ["mailto:ld@example.com"]
    assert "click" in page.text and "javascript:alert(2)" in page.text


def test_bare_addresses_become_links_unless_verbatim() -> None:
    page = md("read https://example.com/x_y. Now")
    assert page.one("a").attrs["href"] == "https://example.com/x_y"
    assert md("http://a, then").one("a").attrs["href"] == "http://a"
    verbatim = dom(text_object({**mk("read https://example.com"), "verbatim": True}, PEOPLE))
    assert verbatim.all("a") == [] and "https://example.com" in verbatim.text


def test_user_mentions_show_names_from_the_directory() -> None:
    page = md("Hi <@U1>, ask <@U9> or <@U3>")
    assert [m.text for m in page.all(cls="mk-mention")] == ["@Ana Petrova", "@U9", "@Chen <Li>"]


def test_channel_mentions_show_the_channel_name() -> None:
    page = md("See <#C1>, <#C9|old-name> and <#C8>")
    assert [m.text for m in page.all(cls="mk-channel")] == ["#sales", "#old-name", "#C8"]


def test_special_mentions_and_dates() -> None:
    page = md("<!here> <!channel> <!everyone> due <!date^1700000000^{date_short}|7 Dec 2026>")
    assert [m.text for m in page.all(cls="mk-broadcast")] == ["@here", "@channel", "@everyone"]
    assert page.one(cls="mk-date").text == "7 Dec 2026"


def test_emoji_shortcodes_become_emoji_and_unknown_ones_stay() -> None:
    page = md(":white_check_mark: done :tada: :wave: :not_an_emoji: at 10:30:45")
    assert page.text == "✅ done 🎉 👋 :not_an_emoji: at 10:30:45"


def test_skin_tones_and_emoji_in_link_labels() -> None:
    assert md(":+1::skin-tone-3:").text == "👍\U0001f3fc"
    assert md("<https://x.io|:books: read>").one("a").text == "📚 read"


def test_an_empty_directory_shows_ids() -> None:
    assert dom(mrkdwn("<@U7> in <#C7>", Directory.EMPTY)).text == "@U7 in #C7"


def test_slack_escapes_are_decoded_once() -> None:
    page = md("L&amp;D &lt;3 &amp;lt;b&amp;gt;")
    assert page.text == "L&D <3 &lt;b&gt;"


def test_newlines_become_line_breaks() -> None:
    page = md("one\ntwo\n\nthree")
    assert len(page.all("br")) == 3 and page.text == "onetwothree"


def test_typed_markup_shows_as_text_never_as_tags() -> None:
    for text in ('<script>alert("x")</script>', "&lt;img src=x onerror=alert(1)&gt;"):
        page = md(text)
        assert page.all("script") == [] and page.all("img") == []
        assert "alert" in page.text and "<" in page.text
    raw = mrkdwn('<https://x.com/"onmouseover="alert(1)|a>', PEOPLE)
    assert dom(raw).one("a").attrs == {
        "href": 'https://x.com/"onmouseover="alert(1)',
        "target": "_blank",
        "rel": "noopener noreferrer",
    }


# -- text objects ---------------------------------------------------------------------------


def test_plain_text_is_literal_but_converts_emoji_when_asked() -> None:
    assert dom(text_object(plain("*not bold* :tada:"), PEOPLE)).text == "*not bold* 🎉"
    no_emoji = {"type": "plain_text", "text": ":tada: <b>", "emoji": False}
    assert dom(text_object(no_emoji, PEOPLE)).text == ":tada: <b>"
    assert text_object(None, PEOPLE) == ""


# -- blocks ---------------------------------------------------------------------------------


def test_every_block_carries_its_type_and_id() -> None:
    page = blocks({"type": "divider", "block_id": "d1"})
    block = page.one(cls="bk-block")
    assert block.classes == {"bk-block", "bk-divider"} and block.attrs["data-block-id"] == "d1"
    assert block.all("hr")


def test_header_shows_its_plain_text() -> None:
    page = blocks({"type": "header", "text": plain("Week 1 :rocket:")})
    assert page.one(cls="bk-header").text == "Week 1 🚀"


def test_section_text_fields_and_accessory() -> None:
    page = blocks(
        {
            "type": "section",
            "block_id": "s",
            "text": mk("*Goal*"),
            "fields": [mk("*Owner*\n<@U1>"), mk("*Due*\nFriday")],
            "accessory": {
                "type": "button",
                "text": plain("Vote"),
                "action_id": "vote",
                "value": "7",
            },
        }
    )
    assert page.one(cls="bk-text").one("b").text == "Goal"
    fields = page.one(cls="bk-fields").all(cls="bk-field")
    assert [f.text for f in fields] == ["Owner@Ana Petrova", "DueFriday"]
    button = page.one(cls="bk-accessory").one("button")
    assert button.attrs["data-block-id"] == "s" and button.attrs["data-live"] == "1"


def test_section_accessory_image() -> None:
    page = blocks(
        {
            "type": "section",
            "text": mk("Hi"),
            "accessory": {"type": "image", "image_url": "https://x.io/a.png", "alt_text": "logo"},
        }
    )
    img = page.one(cls="bk-accessory").one("img")
    assert img.attrs["src"] == "https://x.io/a.png" and img.attrs["alt"] == "logo"


def test_context_shows_text_and_images_small() -> None:
    page = blocks(
        {
            "type": "context",
            "elements": [
                {"type": "image", "image_url": "https://x.io/i.png", "alt_text": "icon"},
                mk("From _Onboarding_"),
                plain("plain *text*"),
            ],
        }
    )
    context = page.one(cls="bk-context")
    assert context.one("img").attrs["alt"] == "icon"
    assert context.one("i").text == "Onboarding"
    assert context.text == "From Onboardingplain *text*"


def test_image_block_with_title_and_unsafe_source() -> None:
    page = blocks(
        {
            "type": "image",
            "title": plain("Chart"),
            "image_url": "https://x.io/c.png",
            "alt_text": "a chart",
        },
        {"type": "image", "image_url": "javascript:alert(1)", "alt_text": "bad"},
    )
    good, bad = page.all(cls="bk-image")
    assert good.one(cls="bk-image-title").text == "Chart"
    assert good.one("img").attrs["src"] == "https://x.io/c.png"
    assert bad.all("img") == [] and "bad" in bad.text


def test_unknown_block_shows_a_muted_note() -> None:
    page = blocks({"type": "video", "block_id": "v"}, {"type": "divider"})
    assert page.one(cls="bk-unsupported").text == "[unsupported block: video]"
    assert page.all(cls="bk-divider")


def test_a_malformed_block_shows_a_note_and_the_rest_renders() -> None:
    page = blocks(
        {"type": "section", "fields": "not a list"},
        {"type": "context", "elements": ["not an object"]},
        {"type": "header", "text": plain("Still here")},
    )
    notes = page.all(cls="bk-unsupported")
    assert [n.text for n in notes] == [
        "[block Slack would refuse: section]",
        "[block Slack would refuse: context]",
    ]
    assert page.one(cls="bk-header").text == "Still here"


def test_rich_text_sections_lists_quotes_and_code() -> None:
    page = blocks(
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "Hi ", "style": {"bold": True}},
                        {"type": "user", "user_id": "U1"},
                        {"type": "text", "text": " see "},
                        {"type": "link", "url": "https://x.io", "text": "this"},
                        {"type": "channel", "channel_id": "C1"},
                        {"type": "emoji", "name": "tada"},
                        {"type": "emoji", "name": "wave", "unicode": "1f44b"},
                        {"type": "text", "text": "old", "style": {"strike": True, "italic": True}},
                    ],
                },
                {
                    "type": "rich_text_list",
                    "style": "ordered",
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "a"}]},
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "b"}]},
                    ],
                },
                {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted"}]},
                {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "x=1"}]},
                {
                    "type": "rich_text_section",
                    "elements": [{"type": "text", "text": "<b>", "style": {"code": True}}],
                },
            ],
        }
    )
    first = page.all(cls="bk-rt-section")[0]
    assert first.one("b").text == "Hi "
    assert first.one(cls="mk-mention").text == "@Ana Petrova"
    assert first.one("a").attrs["href"] == "https://x.io" and first.one("a").text == "this"
    assert first.one(cls="mk-channel").text == "#sales"
    assert [e.text for e in first.all(cls="mk-emoji")] == ["🎉", "👋"]
    assert first.one("i").one("s").text == "old"
    assert [li.text for li in page.one("ol").all("li")] == ["a", "b"]
    assert page.one("blockquote").text == "quoted"
    assert page.one("pre").text == "x=1"
    assert page.one("code").text == "<b>"


# -- interactive elements -----------------------------------------------------------------


def test_buttons_primary_danger_default() -> None:
    page = actions(
        {
            "type": "button",
            "text": plain("Done"),
            "action_id": "d",
            "value": "1|done",
            "style": "primary",
        },
        {
            "type": "button",
            "text": plain("Drop"),
            "action_id": "x",
            "value": "1",
            "style": "danger",
        },
        {"type": "button", "text": plain("Later"), "action_id": "l"},
    )
    done, drop, later = page.all("button")
    assert done.classes == {"bk-el", "bk-button", "bk-primary"} and done.text == "Done"
    assert done.attrs["data-type"] == "button" and done.attrs["data-action-id"] == "d"
    assert done.attrs["data-block-id"] == "act" and done.attrs["data-value"] == "1|done"
    assert "bk-danger" in drop.classes
    assert later.classes == {"bk-el", "bk-button"} and "data-value" not in later.attrs


def test_link_button_opens_the_address_and_still_names_its_action() -> None:
    page = actions(
        {
            "type": "button",
            "text": plain("Open the guide"),
            "action_id": "nudge_link",
            "value": "4|link",
            "url": "https://example.com/guide",
        },
        {"type": "button", "text": plain("Evil"), "action_id": "e", "url": "javascript:alert(1)"},
    )
    link = page.one("a")
    assert link.attrs["href"] == "https://example.com/guide" and link.attrs["target"] == "_blank"
    assert link.attrs["data-action-id"] == "nudge_link" and "bk-button" in link.classes
    assert page.one("button").text == "Evil" and "href" not in page.one("button").attrs


def test_button_confirm_dialog_is_passed_to_the_page() -> None:
    confirm = {
        "title": plain("Sure?"),
        "text": mk("It *cannot* be undone"),
        "confirm": plain("Yes"),
    }
    page = actions({"type": "button", "text": plain("Drop"), "action_id": "x", "confirm": confirm})
    assert '"title": "Sure?"' in str(page.one("button").attrs["data-confirm"])


def test_static_select_with_placeholder_options_and_descriptions() -> None:
    page = actions(
        {
            "type": "static_select",
            "action_id": "snooze",
            "placeholder": plain("Snooze"),
            "options": [option("1 hour", "1h"), option("Tomorrow", "1d", "at 09:00")],
        }
    )
    select = page.one("select")
    assert select.attrs["data-type"] == "static_select" and "multiple" not in select.attrs
    options = select.all("option")
    assert [(o.attrs["value"], o.text) for o in options] == [
        ("", "Snooze"),
        ("1h", "1 hour"),
        ("1d", "Tomorrow — at 09:00"),
    ]
    assert "selected" in options[0].attrs


def test_static_select_initial_option_and_groups() -> None:
    page = input_block(
        {
            "type": "static_select",
            "action_id": "v",
            "option_groups": [
                {"label": plain("Soon"), "options": [option("Today", "t"), option("Now", "n")]}
            ],
            "initial_option": option("Now", "n"),
        }
    )
    options = page.one("optgroup").all("option")
    assert [o.attrs["value"] for o in page.all("option")] == ["t", "n"]
    assert "selected" in options[1].attrs and "selected" not in options[0].attrs


def test_external_select_shows_its_initial_option() -> None:
    page = input_block(
        {"type": "external_select", "action_id": "v", "initial_option": option("Ana", "a")}
    )
    assert [(o.attrs["value"], o.text) for o in page.all("option")] == [("a", "Ana")]


def test_overflow_menu() -> None:
    page = actions(
        {
            "type": "overflow",
            "action_id": "more",
            "options": [option("Edit", "e"), option("Delete", "d")],
        }
    )
    select = page.one("select")
    assert {"bk-el", "bk-overflow"} <= select.classes and select.attrs["data-type"] == "overflow"
    assert [(o.attrs["value"], o.text) for o in select.all("option")] == [
        ("", "⋯"),
        ("e", "Edit"),
        ("d", "Delete"),
    ]


def test_checkboxes_show_initial_choices_and_descriptions() -> None:
    page = actions(
        {
            "type": "checkboxes",
            "action_id": "check",
            "options": [option("Read it", "r"), {"text": mk("*Try* it"), "value": "t"}],
            "initial_options": [{"text": mk("*Try* it"), "value": "t"}],
        }
    )
    group = page.one(cls="bk-el")
    assert group.tag == "div" and group.attrs["data-type"] == "checkboxes"
    first, second = group.all("input")
    assert first.attrs["type"] == "checkbox" and "checked" not in first.attrs
    assert second.attrs["value"] == "t" and "checked" in second.attrs
    assert group.all("label")[1].one("b").text == "Try"


def test_radio_buttons_share_a_name_unique_to_the_element() -> None:
    radio = {
        "type": "radio_buttons",
        "action_id": "why",
        "options": [option("Busy", "busy", "no time this week"), option("Done it", "done")],
        "initial_option": option("Done it", "done"),
    }
    page = dom(render_blocks([{"type": "actions", "elements": [radio]}] * 2, PEOPLE))
    inputs = page.all("input")
    assert {i.attrs["type"] for i in inputs} == {"radio"}
    names = [i.attrs["name"] for i in inputs]
    assert names[0] == names[1] and names[2] == names[3] and names[0] != names[2]
    assert [("checked" in i.attrs) for i in inputs[:2]] == [False, True]
    assert page.all(cls="bk-desc")[0].text == "no time this week"


def test_datepicker_and_timepicker() -> None:
    page = actions(
        {"type": "datepicker", "action_id": "due", "initial_date": "2026-12-11"},
        {"type": "timepicker", "action_id": "at", "initial_time": "09:30"},
    )
    date_input, time_input = page.all("input")
    assert date_input.attrs["type"] == "date" and date_input.attrs["value"] == "2026-12-11"
    assert date_input.attrs["data-type"] == "datepicker"
    assert time_input.attrs["type"] == "time" and time_input.attrs["value"] == "09:30"


def test_user_select_lists_the_directory_by_name() -> None:
    page = actions({"type": "users_select", "action_id": "owner", "initial_user": "U2"})
    options = page.one("select").all("option")
    assert [o.text for o in options] == ["Ana Petrova", "Ben Ode", "Chen <Li>"]
    assert [o.attrs["value"] for o in options if "selected" in o.attrs] == ["U2"]


def test_conversation_and_channel_selects_list_channels() -> None:
    for kind in ("conversations_select", "channels_select"):
        page = actions({"type": kind, "action_id": "c", "placeholder": plain("Pick one")})
        options = page.one("select").all("option")
        assert [o.text for o in options] == ["Pick one", "#ld-triage", "#sales"]


def test_multi_selects_allow_several() -> None:
    page = actions(
        {
            "type": "multi_static_select",
            "action_id": "m",
            "options": [option("A", "a"), option("B", "b")],
            "initial_options": [option("B", "b")],
        },
        {"type": "multi_users_select", "action_id": "u", "initial_users": ["U1", "U3"]},
        {"type": "multi_conversations_select", "action_id": "c"},
    )
    static, users, conversations = page.all("select")
    assert all("multiple" in s.attrs for s in (static, users, conversations))
    assert [o.attrs["value"] for o in static.all("option") if "selected" in o.attrs] == ["b"]
    assert [o.attrs["value"] for o in users.all("option") if "selected" in o.attrs] == ["U1", "U3"]
    assert len(conversations.all("option")) == 2


def test_unknown_element_shows_a_note() -> None:
    page = actions({"type": "workflow_button", "action_id": "w"})
    assert page.one(cls="bk-unsupported").text == "[unsupported element: workflow_button]"


# -- input blocks ---------------------------------------------------------------------------


def test_input_block_label_optional_hint_and_error_slot() -> None:
    page = input_block(
        {"type": "plain_text_input", "action_id": "v", "placeholder": plain("Type…")},
        optional=True,
        hint=plain("One line"),
    )
    block = page.one(cls="bk-input")
    assert block.attrs["data-block-id"] == "in"
    assert block.one(cls="bk-label").text == "Your answer (optional)"
    assert block.one(cls="bk-hint").text == "One line"
    error = block.one(cls="bk-error")
    assert error.attrs["data-block-id"] == "in" and error.text == ""
    field = block.one("input")
    assert field.attrs["type"] == "text" and field.attrs["placeholder"] == "Type…"
    assert "data-live" not in field.attrs and "data-dispatch" not in field.attrs
    assert "data-required" not in field.attrs  # optional
    required = input_block({"type": "datepicker", "action_id": "v"}).one("input")
    assert required.attrs["data-required"] == "1"


def test_multiline_text_input_is_a_textarea_with_limits_and_value() -> None:
    page = input_block(
        {
            "type": "plain_text_input",
            "action_id": "v",
            "multiline": True,
            "min_length": 2,
            "max_length": 500,
            "initial_value": "</textarea><script>x</script>",
        }
    )
    area = page.one("textarea")
    assert area.attrs["maxlength"] == "500" and area.attrs["minlength"] == "2"
    assert area.text == "</textarea><script>x</script>" and page.all("script") == []


def test_number_email_and_url_inputs() -> None:
    for kind, html_type in (
        ("number_input", "number"),
        ("email_text_input", "email"),
        ("url_text_input", "url"),
    ):
        element = {"type": kind, "action_id": "v", "initial_value": "3"}
        field = input_block(element).one("input")
        assert field.attrs["type"] == html_type and field.attrs["value"] == "3"
        assert field.attrs["data-type"] == kind


def test_dispatching_input_is_live() -> None:
    page = input_block(
        {"type": "static_select", "action_id": "v", "options": [option("A", "a")]},
        dispatch_action=True,
    )
    select = page.one("select")
    assert select.attrs["data-dispatch"] == "1" and select.attrs["data-live"] == "1"


def test_input_elements_of_every_kind_render() -> None:
    for element in (
        {"type": "checkboxes", "action_id": "v", "options": [option("A", "a")]},
        {"type": "radio_buttons", "action_id": "v", "options": [option("A", "a")]},
        {"type": "datepicker", "action_id": "v"},
        {"type": "timepicker", "action_id": "v"},
        {"type": "users_select", "action_id": "v"},
        {"type": "conversations_select", "action_id": "v"},
    ):
        page = input_block(element)
        el = page.one(cls="bk-el")
        assert el.attrs["data-type"] == element["type"] and el.attrs["data-block-id"] == "in"


# -- messages -------------------------------------------------------------------------------


def test_message_without_blocks_shows_its_text_as_mrkdwn() -> None:
    page = dom(render_message({"text": "Hi <@U1> *there* <script>"}, PEOPLE))
    assert page.one("b").text == "there"
    assert "@Ana Petrova" in page.text and "<script>" in page.text and page.all("script") == []


def test_message_with_no_text_renders_empty() -> None:
    assert dom(render_message({"text": None, "blocks": []}, PEOPLE)).text == ""


def test_message_with_blocks_shows_blocks_not_the_fallback_text() -> None:
    message = {"text": "fallback", "blocks": [{"type": "section", "text": mk("the *real* one")}]}
    page = dom(render_message(message, PEOPLE))
    assert "fallback" not in page.text and page.one("b").text == "real"


def test_attachments_show_with_their_colour() -> None:
    message = {
        "text": "Report",
        "attachments": [
            {"color": "danger", "text": "*3* overdue"},
            {"color": "red;background:url(x)", "blocks": [{"type": "divider"}]},
        ],
    }
    page = dom(render_message(message, PEOPLE))
    first, second = page.all(cls="bk-attachment")
    assert "#e01e5a" in str(first.attrs["style"]) and first.one("b").text == "3"
    assert "url(" not in str(second.attrs["style"]) and second.all("hr")


# -- what the bot really sends ------------------------------------------------------------


def _check_inputs(view: dict[str, Any]) -> Node:
    page = dom(render_blocks(view["blocks"], PEOPLE, surface="modal"))
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert inputs
    for block in inputs:
        rendered = page.one(cls="bk-input", data_block_id=block["block_id"])
        assert rendered.one(cls="bk-error").attrs["data-block-id"] == block["block_id"]
        element = rendered.one(cls="bk-el")
        assert element.attrs["data-type"] == block["element"]["type"]
        assert element.attrs["data-action-id"] == block["element"]["action_id"]
        assert rendered.one(cls="bk-label").text.startswith(block["label"]["text"])
    assert page.all(cls="bk-unsupported") == []
    return page


def test_the_intake_form_renders_every_field_with_an_error_slot() -> None:
    view = form_view(answers={"goal": "Churn 8% → 5%", "diagnostic": "process"}, question="Who?")
    page = _check_inputs(view)
    assert page.one(cls="bk-input", data_block_id="goal").one("textarea").text == "Churn 8% → 5%"
    assert page.one(cls="bk-input", data_block_id="team").one("input").attrs["type"] == "text"
    chosen = page.one(cls="bk-input", data_block_id="diagnostic").all("option")
    assert [o.attrs["value"] for o in chosen if "selected" in o.attrs] == ["process"]
    assert "L&D asks:" in page.text  # the builder's &amp; shows as "&"
    assert len(page.all(cls="bk-optional")) == 4


def test_the_proof_modals_render() -> None:
    radios = _check_inputs(not_relevant_modal(7)).all("input", type="radio")
    assert len(radios) >= 2 and len({r.attrs["name"] for r in radios}) == 1
    _check_inputs(reflection_modal(7, "What *one* thing will you try?"))
    prefs = _check_inputs(
        preferences_modal(working_hours="09:00-17:00", tz_override=None, language="bg")
    )
    assert prefs.one("input", value="09:00-17:00")
    _check_inputs(enroll_modal(program_id="new-hire-ramp", title="New hire <ramp>"))


def test_the_fatigue_dm_renders_its_resume_button() -> None:
    page = dom(render_message(fatigue_dm(3), PEOPLE))
    button = page.one("button")
    assert "bk-primary" in button.classes and button.text == "Resume my nudges"
    assert page.all("code")[0].text == "/nudges resume"
    assert "⏸️" in page.text


def test_the_premortem_parent_status_and_decision_render() -> None:
    premortem = Premortem(
        id=7,
        channel_id="C1",
        initiative="Support <launch>",
        template="why",
        facilitator_id="U1",
        started_by="U1",
        horizon=date(2027, 5, 1),
        phase=Phase.collect,
        phase_deadline=None,
        vote_budget=3,
        votes_per_risk=1,
        top_risks=3,
    )
    page = dom(render_message({"blocks": parent_blocks(premortem, risk_count=0)}, PEOPLE))
    assert page.one(cls="bk-header").text == "Pre-mortem: Support <launch>"
    assert "Facilitator: @Ana Petrova" in page.one(cls="bk-context").text
    assert "bk-primary" in page.all("button")[0].classes
    risk = Risk(id=3, premortem_id=7, number=1, text="Agents skip <b>questions</b>")
    view = decision_modal(premortem, risk, existing=None, today=date(2026, 12, 7))
    decision = _check_inputs(view)
    assert "Agents skip <b>questions</b>" in decision.text
    prevention = Prevention(id=1, premortem_id=7, risk_id=3, action="x", owner_id="U2")
    status = dom(render_blocks([status_actions(prevention)], PEOPLE))
    assert {"bk-primary", "bk-danger"} <= {c for b in status.all("button") for c in b.classes}


SHORTCODE = re.compile(r":[a-z][a-z0-9_+-]*:")


def test_the_app_home_renders_for_an_ld_lead() -> None:
    when = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    data = HomeData(
        name="Ana",
        tz=ZoneInfo("Europe/Sofia"),
        tz_override=None,
        working_hours="09:00-17:00",
        language=None,
        pauses=[],
        upcoming=[],
        week=[NudgeLine(when, "Onboarding <1>", "Meet your buddy", ":white_check_mark:")],
        lead=LeadData(
            page=0,
            pages=2,
            total=11,
            programs=[
                ProgramLine("new-hire-ramp", "New hire ramp", True, 6, [StepAdoption("a", 4, 6)])
            ],
            min_group=5,
        ),
    )
    page = dom(render_blocks(home_view(data)["blocks"], PEOPLE, surface="home"))
    assert [h.text for h in page.all(cls="bk-header")] == ["Your nudges", "Programs (L&D)"]
    assert "Onboarding <1>" in page.one("li").text and "✅" in page.one("li").text
    buttons = {b.text: b for b in page.all("button")}
    assert {"Pause for a week", "Change", "Enroll…", "Next"} <= set(buttons)
    assert buttons["Enroll…"].attrs["data-value"] == "new-hire-ramp"
    assert buttons["Enroll…"].attrs["data-block-id"] == "program_new-hire-ramp"
    assert not SHORTCODE.search(page.text) and page.all(cls="bk-unsupported") == []


STARTER = load_library(STARTER_DIR)


def test_every_starter_step_renders_with_its_buttons() -> None:
    assert len(STARTER.programs) >= 10
    for program_id, loaded in STARTER.programs.items():
        program = loaded.program
        for step in program.steps:
            for locale in program.locales:
                message = step_message(program, step.id, locale=locale, delivery_id=1)
                page = dom(render_message(message, PEOPLE))
                assert page.all(cls="bk-unsupported") == [], program_id
                for block in message["blocks"]:
                    for el in block.get("elements", []):
                        if "action_id" in el:
                            assert page.all(data_action_id=el["action_id"]), (program_id, el)
                assert not SHORTCODE.search(page.text), (program_id, step.id)
