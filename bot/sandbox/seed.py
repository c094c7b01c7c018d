"""The sandbox's seeded workspace: a small company to try Nudgebot with.

Twelve people in five time zones and two languages: a Support team of six under
Georgi (enough people for the manager digest to show figures), a Sales team of
three under Sarah (too few: the digest withholds them), and Elena, the L&D lead.
The local Slack gets the people, channels and a few human messages
(:func:`seed_slack`); the bot then learns them the way a real install does
(:func:`seed_bot`): people sync from Slack, the org CSV, and enrollments through
the same functions `nudgebot people sync`, `nudgebot org import` and
`nudgebot enroll` call. Nothing here writes SQL of its own.

Channel ids that starter programs name (`#support-escalations` is the
`ticket-escalated` trigger's channel in customer-call-opener.yaml) are used
as they are, so posting "ESC #123 …" there fires that trigger in the sandbox.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from bot.delivery import planner
from bot.localslack import LocalSlack
from bot.people import directory
from bot.people import service as people_service
from bot.people.service import effective_tz
from bot.services import Services
from bot.slack import install


@dataclass(frozen=True)
class SeedPerson:
    """One person of the seeded workspace: what Slack knows and what the org CSV adds."""

    id: str
    name: str
    username: str
    title: str
    tz: str
    locale: str  # Slack's form: "en-US", "bg-BG"
    manager_id: str | None
    team: str
    country: str
    role: str  # employee | manager | ld_lead
    start_days_ago: int = 900  # the org CSV's start date, counted back from seeding day

    @property
    def email(self) -> str:
        return f"{self.username}@example.com"


@dataclass(frozen=True)
class SeedChannel:
    id: str
    name: str
    members: tuple[str, ...]
    purpose: str
    bot_member: bool = True


LEAD_ID = "U0ELENA"
SUPPORT_MANAGER_ID = "U0GEORGI"
SALES_MANAGER_ID = "U0SARAH"
DEFAULT_USER_ID = "U0SAM"
NEW_HIRE_IDS = ("U0SAM", "U0ANA")
SUPPORT_IDS = ("U0SAM", "U0ANA", "U0NIKOLAI", "U0THOMAS", "U0PRIYA", "U0IVAN")
SALES_IDS = ("U0JAMES", "U0EMILY", "U0MILA")

# The program whose first step arrives within a minute of enrolling "now" (its day-0
# step has no time; see docs/delivery.md, Planning, "Start now").
AT_ONCE_PROGRAM = "new-hire-ramp"

_SOFIA, _BG, _EN = "Europe/Sofia", "bg-BG", "en-US"

PEOPLE: tuple[SeedPerson, ...] = (
    SeedPerson(
        LEAD_ID,
        "Elena Petrova",
        "elena",
        "Head of Learning & Development",
        _SOFIA,
        _EN,
        None,
        "People & Learning",
        "BG",
        "ld_lead",
        1400,
    ),
    SeedPerson(
        SUPPORT_MANAGER_ID,
        "Georgi Dimitrov",
        "georgi",
        "Support Team Lead",
        _SOFIA,
        _BG,
        None,
        "Support",
        "BG",
        "manager",
        2100,
    ),
    SeedPerson(
        "U0SAM",
        "Sam Taylor",
        "sam",
        "Support Specialist (started today)",
        _SOFIA,
        _EN,
        SUPPORT_MANAGER_ID,
        "Support",
        "BG",
        "employee",
        0,
    ),
    SeedPerson(
        "U0ANA",
        "Ana Georgieva",
        "ana",
        "Support Specialist (started today)",
        _SOFIA,
        _BG,
        SUPPORT_MANAGER_ID,
        "Support",
        "BG",
        "employee",
        0,
    ),
    SeedPerson(
        "U0NIKOLAI",
        "Nikolai Petrov",
        "nikolai",
        "Senior Support Specialist",
        _SOFIA,
        _BG,
        SUPPORT_MANAGER_ID,
        "Support",
        "BG",
        "employee",
        1100,
    ),
    SeedPerson(
        "U0THOMAS",
        "Thomas Becker",
        "thomas",
        "Support Specialist",
        "Europe/Berlin",
        _EN,
        SUPPORT_MANAGER_ID,
        "Support",
        "DE",
        "employee",
        400,
    ),
    SeedPerson(
        "U0PRIYA",
        "Priya Shah",
        "priya",
        "Support Engineer",
        "Europe/London",
        _EN,
        SUPPORT_MANAGER_ID,
        "Support",
        "GB",
        "employee",
        650,
    ),
    SeedPerson(
        "U0IVAN",
        "Ivan Kolev",
        "ivan",
        "Support Specialist",
        _SOFIA,
        _BG,
        SUPPORT_MANAGER_ID,
        "Support",
        "BG",
        "employee",
        300,
    ),
    SeedPerson(
        SALES_MANAGER_ID,
        "Sarah Miller",
        "sarah",
        "Sales Manager",
        "America/New_York",
        _EN,
        None,
        "Sales",
        "US",
        "manager",
        1800,
    ),
    SeedPerson(
        "U0JAMES",
        "James Carter",
        "james",
        "Account Executive",
        "America/New_York",
        _EN,
        SALES_MANAGER_ID,
        "Sales",
        "US",
        "employee",
        500,
    ),
    SeedPerson(
        "U0EMILY",
        "Emily Chen",
        "emily",
        "Account Executive",
        "America/Los_Angeles",
        _EN,
        SALES_MANAGER_ID,
        "Sales",
        "US",
        "employee",
        250,
    ),
    SeedPerson(
        "U0MILA",
        "Mila Todorova",
        "mila",
        "Account Executive",
        _SOFIA,
        _BG,
        SALES_MANAGER_ID,
        "Sales",
        "BG",
        "employee",
        700,
    ),
)

TRIAGE_CHANNEL_ID = "C0LDTRIAGE"  # settings.triage_channel wants the id (C…)
GENERAL_CHANNEL_ID = "C0GENERAL"
SALES_CHANNEL_ID = "C0SALES"
SUPPORT_ESCALATIONS_CHANNEL_ID = "C0SUPPESC01"  # customer-call-opener's trigger channel

CHANNELS: tuple[SeedChannel, ...] = (
    SeedChannel(
        GENERAL_CHANNEL_ID,
        "general",
        tuple(p.id for p in PEOPLE),
        "Company-wide announcements and chat",
        bot_member=False,  # as the starter programs advise: the bot stays out of #general
    ),
    SeedChannel(
        TRIAGE_CHANNEL_ID,
        "ld-triage",
        (LEAD_ID,),
        "Accepted /intake requests land here for the L&D team to triage",
    ),
    SeedChannel(
        SALES_CHANNEL_ID,
        "sales",
        (SALES_MANAGER_ID, *SALES_IDS),
        "The sales team: deals, pipeline, wins",
    ),
    SeedChannel(
        SUPPORT_ESCALATIONS_CHANNEL_ID,
        "support-escalations",
        (SUPPORT_MANAGER_ID, *SUPPORT_IDS),
        'Escalated tickets: start with "ESC #ticket" and what the customer already tried',
    ),
)

# Usergroups, so `/nudges` and `nudgebot enroll --usergroup` have something to name.
USERGROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("S0SUPPORT", "support-team", (SUPPORT_MANAGER_ID, *SUPPORT_IDS)),
    ("S0SALES", "sales-team", (SALES_MANAGER_ID, *SALES_IDS)),
)

# (program, who): enrolled with a start of now, as the Enroll button does.
ENROLLMENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (AT_ONCE_PROGRAM, NEW_HIRE_IDS),
    # All six of Georgi's team, so his digest has enough people behind its figures.
    ("customer-call-opener", SUPPORT_IDS),
    ("meeting-to-proposal", SALES_IDS),
    ("manager-weekly-one-to-one", (SUPPORT_MANAGER_ID, SALES_MANAGER_ID)),
    ("ld-strategic-partner", (LEAD_ID,)),
)

# A few things people said before the sandbox opened: (channel, who, text, reply or None).
_CHATTER: tuple[tuple[str, str, str, tuple[str, str] | None], ...] = (
    (
        GENERAL_CHANNEL_ID,
        LEAD_ID,
        "Please welcome <@U0SAM> and <@U0ANA>, who join Support today! :wave:",
        ("U0NIKOLAI", "Welcome both! Ping me with any question, however small."),
    ),
    (
        SUPPORT_ESCALATIONS_CHANNEL_ID,
        SUPPORT_MANAGER_ID,
        "Reminder: every escalation starts with *ESC #ticket*, then what the customer "
        "already tried. :pray:",
        None,
    ),
    (
        SALES_CHANNEL_ID,
        SALES_MANAGER_ID,
        "Pipeline review on Thursday. Please update your deals in the CRM by Wednesday.",
        ("U0JAMES", "Done for mine :white_check_mark:"),
    ),
    (
        TRIAGE_CHANNEL_ID,
        LEAD_ID,
        "Every accepted `/intake` request shows up here. Approve or decline it from its card.",
        None,
    ),
)

YOU = SeedPerson(
    LEAD_ID,
    "You",
    "you",
    "L&D lead",
    _SOFIA,
    _EN,
    None,
    "People & Learning",
    "BG",
    "ld_lead",
)


def seed_people(*, empty: bool = False) -> tuple[SeedPerson, ...]:
    """Who the workspace holds: everyone, or (empty) only "You", the L&D lead."""
    return (YOU,) if empty else PEOPLE


def person(user_id: str, *, empty: bool = False) -> SeedPerson:
    """The seeded person with this Slack user id (KeyError when there is none)."""
    for candidate in seed_people(empty=empty):
        if candidate.id == user_id:
            return candidate
    raise KeyError(user_id)


def seed_slack(slack: LocalSlack, *, empty: bool = False) -> None:
    """Put the people, channels, user groups and some chatter into the local Slack."""
    present = seed_people(empty=empty)
    ids = {p.id for p in present}
    for person in present:
        slack.add_user(
            person.id,
            name=person.username,
            real_name=person.name,
            display_name=person.name.split()[0],
            tz=person.tz,
            locale=person.locale,
            email=person.email,
            status_text=person.title,
        )
    for channel in CHANNELS:
        slack.add_channel(
            channel.id,
            name=channel.name,
            members=[m for m in channel.members if m in ids] or [LEAD_ID],
            bot_member=channel.bot_member,
        )
    if empty:
        return
    for group_id, handle, members in USERGROUPS:
        slack.add_usergroup(group_id, handle=handle, users=members)
    for channel_id, author, text, reply in _CHATTER:
        ts = slack.add_message(channel_id, user=author, text=text)
        if reply is not None:
            slack.add_message(channel_id, user=reply[0], text=reply[1], thread_ts=ts)


def org_csv(today: date) -> str:
    """The org CSV an HR system would export for the seeded people (start dates from `today`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(people_service.ORG_COLUMNS)
    for p in PEOPLE:
        writer.writerow(
            [
                p.id,
                p.email,
                p.name,
                p.manager_id or "",
                p.team,
                p.country,
                p.tz,
                (today - timedelta(days=p.start_days_ago)).isoformat(),
                p.role,
            ]
        )
    return out.getvalue()


def seed_bot(services: Services, *, empty: bool = False) -> str:
    """Teach the bot the seeded workspace as an install would; a one-line summary.

    The content library must already be synced (`bot.content.service.load_and_sync`).
    Enrollments start now, so whoever is inside their working window gets the first
    step of `AT_ONCE_PROGRAM` within a minute."""
    for team, client in install.sync_targets(services):
        users = list(directory.slack_users(client))
        with services.session() as session:
            people_service.apply_slack_users(session, users=users, workspace_id=team)
    if empty:
        return "sandbox: an empty workspace (you, the L&D lead, and the channels); no enrollments"
    now = services.clock.now()
    with services.session() as session:
        lead = people_service.find_person(session, LEAD_ID)
        tz = effective_tz(lead, services.settings.default_timezone) if lead else _SOFIA
        today = now.astimezone(ZoneInfo(tz)).date()
        imported = people_service.import_org_text(
            session, text=org_csv(today), source="sandbox-org.csv"
        )
    if imported.errors:
        raise RuntimeError("the sandbox's org CSV is wrong:\n" + "\n".join(imported.errors))
    parts: list[str] = []
    for program_id, user_ids in ENROLLMENTS:
        with services.session() as session:
            result = planner.enroll_and_plan(
                session,
                settings=services.settings,
                now=now,
                program_id=program_id,
                user_ids=user_ids,
                starts_at=now,
                enrolled_by=LEAD_ID,
                source="sandbox",
            )
        parts.append(f"{len(result.enrolled) + len(result.already)} in {program_id}")
    return f"sandbox: {len(PEOPLE)} people, {len(CHANNELS)} channels; enrolled " + ", ".join(parts)
