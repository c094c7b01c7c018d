"""The Block Kit message a person receives for a step. Pure: data in, dicts out.

Every interactive element's value starts with the delivery id ("preview" in
previews), so a click names its delivery without a lookup: `"{delivery_id}|{extra}"`.
Action ids (the proof listeners match on them):
  nudge_done, nudge_not_relevant          buttons, extra "done" / "not_relevant"
  nudge_snooze                            a select, option extras "1h" / "tomorrow"
  nudge_rate_1 … nudge_rate_5             buttons, extra "1" … "5" (Slack wants
                                          action ids unique within a block)
  nudge_check                             checkboxes, option extra = item index
  nudge_reflect                           button opening the reflection modal, extra "text"
  nudge_link                              the job aid's link button, extra "link"
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from bot.content.schema import FALLBACK_LOCALE, Program, Step, localise, normalise_locale
from bot.slack import blocks as kit

BLOCK_ID_ACTIONS = "nudge_actions"
BLOCK_ID_RATING = "nudge_rating"
BLOCK_ID_CHECKLIST = "nudge_checklist"
BLOCK_ID_REFLECTION = "nudge_reflection"
BLOCK_ID_TEXT = "nudge_text"
BLOCK_ID_CONTEXT = "nudge_context"
SNOOZE_CHOICES = ("1h", "tomorrow")

# Button wording in each language the bot speaks; content in another language
# gets English buttons.
UI: dict[str, dict[str, str]] = {
    "en": {
        "done": "Done",
        "not_relevant": "Not relevant",
        "snooze": "Remind me later",
        "1h": "In an hour",
        "tomorrow": "Tomorrow",
        "reflect": "Write my answer",
        "scale_low": "1 = not at all, 5 = fully",
        "from": "From the program",
        # The line an answered nudge shows (bot/proof/blocks.py), in the reader's zone.
        "all_done": "All items done",
        "rated": "You rated it *{value}/5*",
        "answered_scale": "You answered *{value}/5*",
        "reflection_saved": "Your reflection is saved",
        "not_coming_back": "this one will not come back",
        "reason": "Reason: {reason}",
        "snoozed": "Snoozed",
        "comes_back": "it comes back {when}",
        "reason_not_my_role": "Not part of my role",
        "reason_already_do_it": "I already do this",
        "reason_wrong_time": "Wrong moment in my work",
        "reason_unclear": "I don't understand what to do",
        "reason_other": "Something else",
        "weekdays": "Mon Tue Wed Thu Fri Sat Sun",
        "months": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
        # The two modals a nudge opens (bot/proof/blocks.py).
        "nr_title": "Not relevant",
        "nr_submit": "Send reason",
        "nr_close": "Skip",
        "nr_intro": "Got it: this nudge will not come back. If you tell us why, the program's "
        "owner can make it better (optional).",
        "nr_why": "Why not?",
        "nr_words": "In your words",
        "rf_title": "Your reflection",
        "rf_submit": "Save",
        "rf_close": "Cancel",
        "rf_label": "Your answer (only you and the proof log see it)",
    },
    "bg": {
        "done": "Готово",
        "not_relevant": "Не се отнася за мен",
        "snooze": "Напомни ми по-късно",
        "1h": "След час",
        "tomorrow": "Утре",
        "reflect": "Напиши отговор",
        "scale_low": "1 = никак, 5 = напълно",
        "from": "От програмата",
        "all_done": "Всички точки са изпълнени",
        "rated": "Оценихте го с *{value}/5*",
        "answered_scale": "Отговорихте с *{value}/5*",
        "reflection_saved": "Размисълът ви е запазен",
        "not_coming_back": "няма да го получите отново",
        "reason": "Причина: {reason}",
        "snoozed": "Отложено",
        "comes_back": "ще дойде отново {when}",
        "reason_not_my_role": "Не е част от ролята ми",
        "reason_already_do_it": "Вече го правя",
        "reason_wrong_time": "Неподходящ момент в работата ми",
        "reason_unclear": "Не разбирам какво да направя",
        "reason_other": "Нещо друго",
        "weekdays": "пн вт ср чт пт сб нд",
        "months": "яну фев март апр май юни юли авг сеп окт ное дек",
        "nr_title": "Не се отнася за мен",
        "nr_submit": "Изпрати причината",
        "nr_close": "Пропусни",
        "nr_intro": "Разбрано: това напомняне няма да се върне. Ако ни кажете защо, авторът "
        "на програмата може да го подобри (по желание).",
        "nr_why": "Защо не?",
        "nr_words": "С ваши думи",
        "rf_title": "Вашият размисъл",
        "rf_submit": "Запази",
        "rf_close": "Отказ",
        "rf_label": "Вашият отговор (виждате го само вие и дневникът с доказателства)",
    },
}


def ui_strings(lang: str) -> dict[str, str]:
    return UI.get(lang, UI[FALLBACK_LOCALE])


def ui_time(moment: datetime, tz: tzinfo, lang: str) -> str:
    """A moment in the reader's zone and language: "Thu 26 Nov, 10:00", "чт 26 ное, 10:00"."""
    ui = ui_strings(lang)
    local = moment.astimezone(tz)
    day = ui["weekdays"].split()[local.weekday()]
    month = ui["months"].split()[local.month - 1]
    return f"{day} {local:%d} {month}, {local:%H:%M}"


def message_locale(program: Program, locale: str | None) -> str:
    """The language a person reads this program in: theirs if it ships, else en."""
    code = normalise_locale(locale)
    return code if code in program.locales else FALLBACK_LOCALE


def step_message(
    program: Program, step_id: str, *, locale: str, delivery_id: int | None, arm: str = ""
) -> dict[str, Any]:
    """`{"text": fallback, "blocks": [...]}` for chat.postMessage. KeyError on an unknown step."""
    step = program.step(step_id)
    lang = message_locale(program, locale)
    ui = ui_strings(lang)
    prefix = "preview" if delivery_id is None else str(delivery_id)
    text = localise(step.text_for(arm), lang)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "block_id": BLOCK_ID_TEXT, "text": _mrkdwn(text)}
    ]
    blocks += _kind_blocks(step, lang=lang, ui=ui, prefix=prefix)
    blocks += _rating_blocks(step, lang=lang, prefix=prefix)
    actions = _action_elements(step, lang=lang, ui=ui, prefix=prefix)
    if actions:
        blocks.append({"type": "actions", "block_id": BLOCK_ID_ACTIONS, "elements": actions})
    title = program.text("title", lang)
    blocks.append(
        {
            "type": "context",
            "block_id": BLOCK_ID_CONTEXT,
            "elements": [_mrkdwn(f"{ui['from']} _{kit.escape(title)}_")],
        }
    )
    return {"text": text, "blocks": blocks}


def _kind_blocks(step: Step, *, lang: str, ui: dict[str, str], prefix: str) -> list[dict[str, Any]]:
    if step.kind == "checklist" and step.items:
        options = [
            {"text": _plain(localise(item, lang)), "value": f"{prefix}|{index}"}
            for index, item in enumerate(step.items)
        ]
        element = {"type": "checkboxes", "action_id": "nudge_check", "options": options}
        return [{"type": "actions", "block_id": BLOCK_ID_CHECKLIST, "elements": [element]}]
    if step.kind == "reflection" and step.reflection is not None:
        if step.reflection.answer == "scale":
            return [
                _scale_actions(prefix),
                {"type": "context", "elements": [_plain(ui["scale_low"])]},
            ]
        button = _button(ui["reflect"], "nudge_reflect", f"{prefix}|text", style="primary")
        return [{"type": "actions", "block_id": BLOCK_ID_REFLECTION, "elements": [button]}]
    return []


def _rating_blocks(step: Step, *, lang: str, prefix: str) -> list[dict[str, Any]]:
    if step.rating is None or step.kind == "reflection":
        return []
    label = localise(step.rating.label, lang)
    return [{"type": "section", "text": _mrkdwn(label)}, _scale_actions(prefix)]


def _scale_actions(prefix: str) -> dict[str, Any]:
    buttons = [_button(str(n), f"nudge_rate_{n}", f"{prefix}|{n}") for n in range(1, 6)]
    return {"type": "actions", "block_id": BLOCK_ID_RATING, "elements": buttons}


def _action_elements(
    step: Step, *, lang: str, ui: dict[str, str], prefix: str
) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = []
    if step.link is not None:
        link = _button(localise(step.link.label, lang), "nudge_link", f"{prefix}|link")
        link["url"] = step.link.url
        elements.append(link)
    for answer in step.offered_answers:
        if answer == "done":
            elements.append(_button(ui["done"], "nudge_done", f"{prefix}|done", style="primary"))
        elif answer == "not_relevant":
            value = f"{prefix}|not_relevant"
            elements.append(_button(ui["not_relevant"], "nudge_not_relevant", value))
        else:
            elements.append(
                {
                    "type": "static_select",
                    "action_id": "nudge_snooze",
                    "placeholder": _plain(ui["snooze"]),
                    "options": [
                        {"text": _plain(ui[c]), "value": f"{prefix}|{c}"} for c in SNOOZE_CHOICES
                    ],
                }
            )
    return elements


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    # Exactly as written: block_kit_problems reports an over-long label at load time.
    return kit.button(text, action_id, value, style=style, limit=None)


def _plain(text: str) -> dict[str, Any]:
    return kit.plain(text, None)


def _mrkdwn(text: str) -> dict[str, Any]:
    return kit.mrkdwn(text, None)
