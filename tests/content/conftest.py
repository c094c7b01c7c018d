"""A small, valid program file (demo.yaml) that tests break one mistake at a time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

STARTER_DIR = Path(__file__).resolve().parents[2] / "nudges"

# Line numbers matter: the corpus asserts them. Keep this text in step with the tests.
DEMO = """\
id: demo
title:
  en: "Demo program"
  bg: "Демо програма"
owner: "ld@example.com"
summary: {en: "A short demo.", bg: "Кратко демо."}
locales: [en, bg]
problem: {en: "Customers call again.", bg: "Клиентите звънят отново."}
behavior: {en: "Ask two questions first.", bg: "Първо задайте два въпроса."}
place: {en: "The first minute of a call.", bg: "Първата минута на разговора."}
prompt: {en: "A DM before the first call.", bg: "Съобщение преди първия разговор."}
proof: {en: "Done clicks and the repeat rate.", bg: "Кликове и повторните обаждания."}
metric:
  name: "Repeat contacts within 7 days"
  unit: "%"
  direction: down
  baseline: 18
  target: 12
  by: 2027-06-30
triggers:
  - id: escalated
    source: message
    pattern: "(?i)^esc"
steps:
  - id: ask
    kind: prompt
    when: {day: 0, time: "09:30"}
    text:
      en: "Ask two clarifying questions before any fix."
      bg: "Задайте два уточняващи въпроса преди решение."
    repeat:
      intervals_days: [2, 5, 12]
  - id: check
    kind: checklist
    when: {trigger: escalated, delay: "10m"}
    text: {en: "Before you escalate:", bg: "Преди да ескалирате:"}
    items:
      - {en: "Wrote the need in one sentence", bg: "Записах нуждата в едно изречение"}
      - {en: "Got a yes from the customer", bg: "Получих „да“ от клиента"}
  - id: guide
    kind: job_aid
    when: {day: 2}
    text: {en: "The question bank has openers.", bg: "Банката с въпроси има начала."}
    link:
      url: "https://intranet.example.com/questions"
      label: {en: "Open the bank", bg: "Отворете банката"}
  - id: reflect
    kind: reflection
    when: {day: 7, window: "16:00-17:00"}
    text: {en: "What changed this week?", bg: "Какво се промени тази седмица?"}
    reflection: {answer: text}
    variants:
      - id: short
        text: {en: "One change?", bg: "Една промяна?"}
"""


def edit(text: str, old: str, new: str) -> str:
    """`text` with `old` (which must occur exactly once) replaced by `new`."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


@pytest.fixture
def write_program(tmp_path: Path) -> Callable[..., Path]:
    """Writes a program file into a fresh library folder and returns the folder."""
    library = tmp_path / "nudges"
    library.mkdir()

    def write(text: str = DEMO, name: str = "demo.yaml") -> Path:
        (library / name).write_text(text, encoding="utf-8")
        return library

    return write
