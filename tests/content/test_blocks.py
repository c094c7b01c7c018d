"""The message a person receives: valid Block Kit, in their language, naming its delivery."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.content.blocks import step_message
from bot.content.loader import load_library, parse_program
from bot.content.schema import Program
from bot.slack.blocks import block_kit_problems
from tests.content.conftest import DEMO, STARTER_DIR, edit

STARTER = load_library(STARTER_DIR)


def _cases() -> list[Any]:
    cases = []
    for program_id, loaded in sorted(STARTER.programs.items()):
        program = loaded.program
        for step in program.steps:
            for arm in ["", *(v.id for v in step.variants)]:
                for locale in program.locales:
                    name = f"{program_id}/{step.id}/{locale}" + (f"/{arm}" if arm else "")
                    cases.append(pytest.param(program, step.id, locale, arm, id=name))
    return cases


STARTER_CASES = _cases()


def test_the_starter_library_has_steps_to_preview() -> None:
    # The parametrised test below must never pass by having nothing to check.
    assert STARTER.ok and len(STARTER.programs) >= 10 and len(STARTER_CASES) >= 100


@pytest.mark.parametrize(("program", "step_id", "locale", "arm"), STARTER_CASES)
def test_every_starter_step_is_valid_block_kit(
    program: Program, step_id: str, locale: str, arm: str
) -> None:
    message = step_message(program, step_id, locale=locale, delivery_id=None, arm=arm)
    for block in message["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()  # raises SlackObjectFormationError on anything Slack refuses
        assert parsed.to_dict() == block  # nothing the models do not know about
    assert block_kit_problems(message) == []
    assert message["text"] == program.step(step_id).text_for(arm)[locale]
    for value in _values(message):
        assert value.startswith("preview|")


def _values(message: dict[str, Any]) -> list[str]:
    values = []
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if "value" in element:
                values.append(element["value"])
            values += [o["value"] for o in element.get("options", [])]
    return values


def _program(text: str = DEMO) -> Program:
    program, errors = parse_program(text, file="demo.yaml", expected_id="demo")
    assert errors == [] and program is not None
    return program


def _elements(message: dict[str, Any], block_id: str) -> list[dict[str, Any]]:
    block = next(b for b in message["blocks"] if b.get("block_id") == block_id)
    return list(block["elements"])


def test_a_prompt_offers_done_snooze_and_not_relevant_naming_its_delivery() -> None:
    message = step_message(_program(), "ask", locale="en-US", delivery_id=4711)
    assert message["text"] == "Ask two clarifying questions before any fix."
    done, snooze, not_relevant = _elements(message, "nudge_actions")
    assert (done["action_id"], done["text"]["text"], done["value"]) == (
        "nudge_done",
        "Done",
        "4711|done",
    )
    assert snooze["action_id"] == "nudge_snooze"
    assert [(o["text"]["text"], o["value"]) for o in snooze["options"]] == [
        ("In an hour", "4711|1h"),
        ("Tomorrow", "4711|tomorrow"),
    ]
    assert (not_relevant["action_id"], not_relevant["value"]) == (
        "nudge_not_relevant",
        "4711|not_relevant",
    )


def test_slack_locale_picks_the_translation_and_the_button_language() -> None:
    message = step_message(_program(), "ask", locale="bg-BG", delivery_id=1)
    assert message["text"] == "Задайте два уточняващи въпроса преди решение."
    assert _elements(message, "nudge_actions")[0]["text"]["text"] == "Готово"
    assert "Демо програма" in message["blocks"][-1]["elements"][0]["text"]


def test_an_unshipped_locale_falls_back_to_english() -> None:
    message = step_message(_program(), "ask", locale="de-DE", delivery_id=1)
    assert message["text"] == "Ask two clarifying questions before any fix."
    assert _elements(message, "nudge_actions")[0]["text"]["text"] == "Done"


def test_a_checklist_has_one_checkbox_per_item() -> None:
    message = step_message(_program(), "check", locale="en", delivery_id=9)
    (checkboxes,) = _elements(message, "nudge_checklist")
    assert checkboxes["action_id"] == "nudge_check"
    assert [(o["text"]["text"], o["value"]) for o in checkboxes["options"]] == [
        ("Wrote the need in one sentence", "9|0"),
        ("Got a yes from the customer", "9|1"),
    ]


def test_a_job_aid_links_out_and_offers_done() -> None:
    message = step_message(_program(), "guide", locale="en", delivery_id=3)
    link, done, *_ = _elements(message, "nudge_actions")
    assert link["url"] == "https://intranet.example.com/questions"
    assert link["text"]["text"] == "Open the bank"
    assert done["action_id"] == "nudge_done"


def test_a_text_reflection_opens_a_modal_and_a_scale_one_shows_five_buttons() -> None:
    message = step_message(_program(), "reflect", locale="en", delivery_id=5)
    (button,) = _elements(message, "nudge_reflection")
    assert (button["action_id"], button["value"]) == ("nudge_reflect", "5|text")
    # a reflection is confirmed by its answer: no Done by default
    assert [e["action_id"] for e in _elements(message, "nudge_actions")] == [
        "nudge_snooze",
        "nudge_not_relevant",
    ]
    scale = _program(edit(DEMO, "reflection: {answer: text}", "reflection: {answer: scale}"))
    buttons = _elements(step_message(scale, "reflect", locale="en", delivery_id=5), "nudge_rating")
    assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons] == [
        (str(n), f"nudge_rate_{n}", f"5|{n}") for n in range(1, 6)
    ]


def test_a_rating_question_comes_with_five_buttons() -> None:
    rated = _program(
        edit(
            DEMO,
            "      intervals_days: [2, 5, 12]\n",
            "      intervals_days: [2, 5, 12]\n"
            '    rating: {label: {en: "How sure are you?", bg: "Колко сте сигурни?"}}\n',
        )
    )
    message = step_message(rated, "ask", locale="en", delivery_id=2)
    assert any(b.get("text", {}).get("text") == "How sure are you?" for b in message["blocks"])
    assert [b["value"] for b in _elements(message, "nudge_rating")] == [
        f"2|{n}" for n in range(1, 6)
    ]


def test_an_experiment_arm_gets_its_variant_wording() -> None:
    program = _program()
    assert (
        step_message(program, "reflect", locale="en", delivery_id=1, arm="short")["text"]
        == "One change?"
    )
    assert (
        step_message(program, "reflect", locale="en", delivery_id=1, arm="")["text"]
        == "What changed this week?"
    )
    # an arm this step has no variant for reads the main wording
    assert (
        step_message(program, "ask", locale="en", delivery_id=1, arm="short")["text"]
        == "Ask two clarifying questions before any fix."
    )


def test_answers_limit_the_buttons() -> None:
    program = _program(
        edit(
            DEMO,
            "      intervals_days: [2, 5, 12]\n",
            "      intervals_days: [2, 5, 12]\n    answers: [done]\n",
        )
    )
    message = step_message(program, "ask", locale="en", delivery_id=1)
    assert [e["action_id"] for e in _elements(message, "nudge_actions")] == ["nudge_done"]


def test_an_unknown_step_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no step 'nope'"):
        step_message(_program(), "nope", locale="en", delivery_id=1)
