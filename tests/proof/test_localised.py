"""A Bulgarian reader's answered nudges read in Bulgarian, with times in their own zone,
for every kind of answer, through real block_actions and view_submission payloads."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from bot.content.blocks import UI
from bot.content.schema import Program, program_problems
from bot.people.models import Person
from bot.proof.service import NOT_RELEVANT_REASONS
from tests.conftest import RunningBot
from tests.proof.conftest import OWNER, SentNudge, World, program_data, wait_for

READER = "U0IVANA01"
PROGRAM = "call-opener-bg"
# T0 is Thursday 26 November 2026, 10:00 UTC: 12:00 in Sofia.
AT_T0 = "чт 26 ное, 12:00"

BULGARIAN = {
    "title": "Добро начало на разговора",
    "summary": "Разберете нуждата, преди да предложите решение.",
    "problem": "Клиентите се обаждат отново.",
    "behavior": "Задайте три уточняващи въпроса, преди да предложите решение.",
    "place": "Първите две минути на разговора с клиент.",
    "prompt": "Съобщение преди първия разговор за смяната.",
    "proof": "Кликове „Готово“ и дял на повторните обаждания.",
}
STEPS = {
    "ask-three": "Днес започвайте всеки разговор с три уточняващи въпроса.",
    "call-checklist": "Преди разговора:",
    "shift-reflection": "Какво научихте от днешните разговори?",
    "tip": "Обобщете нуждата в едно изречение.",
    "confidence": "Колко сте сигурни в нуждата на клиента след въпросите?",
}
ITEMS = ["Какво се случи?", "Какво се опитвахте да направите?", "Какъв е добрият изход?"]


def bulgarian_program() -> dict[str, Any]:
    data = program_data(PROGRAM)
    data["locales"] = ["en", "bg"]
    for key, text in BULGARIAN.items():
        data[key] = {"en": data[key], "bg": text}
    for step in data["steps"]:
        step["text"] = {"en": step["text"], "bg": STEPS[step["id"]]}
        if "rating" in step:
            step["rating"]["label"] = {"en": step["rating"]["label"], "bg": "Колко уверени сте?"}
        if "items" in step:
            pairs = zip(step["items"], ITEMS, strict=True)
            step["items"] = [{"en": en, "bg": bg} for en, bg in pairs]
    return data


@pytest.fixture
def reader(world: World) -> World:
    program = world.program(bulgarian_program())[0]
    assert program_problems(Program.model_validate(program.model_dump())) == []
    world.person(READER, tz="Europe/Sofia")
    with world.services.session() as session:  # what the directory sync stores from Slack
        session.execute(update(Person).where(Person.slack_user_id == READER).values(locale="bg-BG"))
    return world


def send(world: World, step_id: str) -> SentNudge:
    return world.send(READER, step_id, program_id=PROGRAM)


def click(bot: RunningBot, nudge: SentNudge, action_id: str, **extra: Any) -> None:
    response = bot.driver.block_actions(
        user_id=READER,
        actions=[{"action_id": action_id, **extra}],
        message=nudge.message(bot.fake),
        channel_id=nudge.channel,
    )
    assert response.status == 200 and response.acked_in_time


def answer_text(bot: RunningBot, nudge: SentNudge) -> str:
    blocks = nudge.message(bot.fake)["blocks"]
    found = [b for b in blocks if b.get("block_id") == "proof_answers"]
    return str(found[0]["elements"][0]["text"]) if found else ""


def shows(bot: RunningBot, nudge: SentNudge, *lines: str) -> str:
    """Waits until the updated message carries exactly these answer lines."""
    try:
        wait_for(lambda: answer_text(bot, nudge).splitlines() == list(lines))
    except AssertionError:
        assert answer_text(bot, nudge).splitlines() == list(lines)  # shows what it reads
        raise
    return answer_text(bot, nudge)


def test_done_rating_and_a_ticked_checklist_read_in_bulgarian(
    bot: RunningBot, reader: World
) -> None:
    nudge = send(reader, "ask-three")
    click(bot, nudge, "nudge_done")
    shows(bot, nudge, f":white_check_mark: *Готово* · {AT_T0}")
    message = nudge.message(bot.fake)
    # The rest of the updated message is in Bulgarian too: the open rating, the footer.
    assert "Колко уверени сте?" in str(message["blocks"])
    assert "От програмата _Добро начало на разговора_" in str(message["blocks"])

    click(bot, nudge, "nudge_rate_4")
    shows(
        bot,
        nudge,
        f":white_check_mark: *Готово* · {AT_T0}",
        f":star: Оценихте го с *4/5* · {AT_T0}",
    )

    checklist = send(reader, "call-checklist")
    ticked = [{"value": f"{checklist.delivery_id}|{i}"} for i in range(3)]
    click(bot, checklist, "nudge_check", type="checkboxes", selected_options=ticked)
    shows(bot, checklist, f":white_check_mark: *Всички точки са изпълнени* · {AT_T0}")


def test_not_relevant_with_its_reason_and_a_snooze_read_in_bulgarian(
    bot: RunningBot, reader: World
) -> None:
    bot.fake.add_user(OWNER, name="owner")
    nudge = send(reader, "ask-three")
    click(bot, nudge, "nudge_not_relevant")
    not_relevant = f":no_entry_sign: *Не се отнася за мен* · {AT_T0}: няма да го получите отново"
    shows(bot, nudge, not_relevant)
    opened = wait_for(lambda: bot.fake.calls_to("views.open"))
    modal = opened[0].response["view"]
    assert (modal["title"]["text"], modal["submit"]["text"]) == (
        "Не се отнася за мен",
        "Изпрати причината",
    )
    assert "Вече го правя" in str(modal["blocks"]) and "Why not?" not in str(modal["blocks"])
    reply = bot.driver.view_submission(
        user_id=READER,
        view_id=opened[0].response["view"]["id"],
        state_values={
            "reason": {
                "choice": {"type": "radio_buttons", "selected_option": {"value": "already_do_it"}}
            },
            "details": {"text": {"type": "plain_text_input", "value": None}},
        },
    )
    assert reply.status == 200 and "errors" not in reply.body
    shows(bot, nudge, not_relevant, "Причина: Вече го правя")

    tip = send(reader, "tip")
    click(bot, tip, "nudge_snooze", selected_option={"value": f"{tip.delivery_id}|1h"})
    # An hour later in Sofia, inside the reader's working hours.
    shows(bot, tip, ":alarm_clock: *Отложено* · ще дойде отново чт 26 ное, 13:00")


def test_reflections_written_or_on_a_scale_read_in_bulgarian(
    bot: RunningBot, reader: World
) -> None:
    written = send(reader, "shift-reflection")
    click(bot, written, "nudge_reflect")
    opened = wait_for(lambda: bot.fake.calls_to("views.open"))
    modal = opened[0].response["view"]
    assert modal["title"]["text"] == "Вашият размисъл"
    assert STEPS["shift-reflection"] in str(modal["blocks"])
    done = bot.driver.view_submission(
        user_id=READER,
        view_id=opened[0].response["view"]["id"],
        state_values={"answer": {"text": {"type": "plain_text_input", "value": "Повтарям целта."}}},
    )
    assert done.status == 200 and "errors" not in done.body
    shows(bot, written, f":memo: Размисълът ви е запазен · {AT_T0}")

    scale = send(reader, "confidence")
    click(bot, scale, "nudge_rate_3")
    shows(bot, scale, f":memo: Отговорихте с *3/5* · {AT_T0}")


def test_every_string_of_the_answered_line_and_modals_has_its_bulgarian_translation() -> None:
    assert set(UI["bg"]) == set(UI["en"])
    for lang in ("en", "bg"):
        assert len(UI[lang]["weekdays"].split()) == 7 and len(UI[lang]["months"].split()) == 12
    # The reasons read in the message as the modal offered them.
    reasons = {k.removeprefix("reason_"): v for k, v in UI["en"].items() if k.startswith("reason_")}
    assert reasons == NOT_RELEVANT_REASONS
