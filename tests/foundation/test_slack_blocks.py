"""The Block Kit kit (bot/slack/blocks.py): whatever a slice hands it, what comes out is
within Slack's limits, people's text never turns into markup, and a message that Slack
would refuse is named before it is sent."""

from __future__ import annotations

from slack_sdk.models.blocks import Block as SdkBlock

from bot.slack import blocks as kit


def test_builders_cut_long_text_to_slacks_limits_and_say_so_with_an_ellipsis() -> None:
    long = "x" * 5000
    section = kit.section(long)
    assert len(section["text"]["text"]) == kit.SECTION_TEXT
    assert section["text"]["text"].endswith("…")
    assert len(kit.context(long)["elements"][0]["text"]) == kit.SECTION_TEXT
    assert len(kit.header(long)["text"]["text"]) == kit.HEADER_TEXT
    assert len(kit.button(long, "a", "v")["text"]["text"]) == kit.BUTTON_TEXT
    assert len(kit.plain(long)["text"]) == kit.PLAIN_TEXT
    assert kit.plain("")["text"] == " "  # Slack refuses an empty plain_text
    assert kit.truncate("short", 10) == "short"
    for block in (section, kit.context(long), kit.header(long), kit.divider()):
        parsed = SdkBlock.parse(block)
        assert parsed is not None
        parsed.validate_json()  # slack_sdk raises on anything over a limit
    assert kit.block_kit_problems({"blocks": [section, kit.header(long)]}) == []


def test_limit_none_keeps_text_exact_so_the_check_can_name_the_problem() -> None:
    label = "y" * 80
    message = {"blocks": [kit.actions([kit.button(label, "a", "v", limit=None)])]}
    assert message["blocks"][0]["elements"][0]["text"]["text"] == label
    problems = kit.block_kit_problems(message)
    assert any("80-character button label" in p and "Slack allows 75" in p for p in problems)


def test_peoples_text_is_escaped_and_never_cut_inside_an_entity() -> None:
    assert kit.escape("<@U1> & <!here>") == "&lt;@U1&gt; &amp; &lt;!here&gt;"
    assert kit.escape_within("a" * 8 + "&&&", 12) == "aaaaaaaa…"  # not "aaaaaaaa&am…"
    assert kit.escape_within("a" * 5 + "&&&", 12) == "aaaaa&amp;…"
    assert kit.escape_within("<b>", 20) == "&lt;b&gt;"
    assert kit.mrkdwn("<x>", verbatim=True) == {"type": "mrkdwn", "text": "<x>", "verbatim": True}


def test_fit_keeps_a_message_within_fifty_blocks_and_says_where_the_rest_is() -> None:
    blocks = [kit.section(str(i)) for i in range(60)]
    fitted = kit.fit(blocks, "More in App Home.")
    assert len(fitted) == kit.MESSAGE_BLOCKS
    assert fitted[-1] == kit.context("More in App Home.")
    assert kit.fit(blocks[:3], "unused") == blocks[:3]
    assert len(kit.fit(blocks, "x", limit=kit.VIEW_BLOCKS)) == 60
