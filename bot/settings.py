"""Nudgebot's settings: one `Settings` class, read from four sources.

Order, highest first: environment variables, `.env`, `config/nudgebot.toml`,
the defaults below. Every setting has one name (its environment name) that is
used the same way in all three places, so the README table is the whole story.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.errors import ConfigError

DEFAULT_TOML = Path("config/nudgebot.toml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class TimeWindow:
    """A local time window such as 09:00-17:30 (start inclusive, end exclusive)."""

    start: time
    end: time

    @classmethod
    def parse(cls, value: str) -> TimeWindow:
        parts = [p.strip() for p in value.split("-")]
        if len(parts) != 2 or not all(_HHMM.match(p) for p in parts):
            raise ValueError(f"expected HH:MM-HH:MM, for example 09:00-17:30, got {value!r}")
        start, end = (time.fromisoformat(p) for p in parts)
        if end <= start:
            raise ValueError(f"the window must end after it starts, got {value!r}")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_weekdays(value: str | list[str] | tuple[str, ...]) -> tuple[int, ...]:
    """`mon,tue` or `["mon", "tue"]` → (0, 1), Monday being 0 as in `date.weekday()`."""
    items = value.split(",") if isinstance(value, str) else list(value)
    days: list[int] = []
    for item in items:
        name = item.strip().lower()[:3]
        if name not in WEEKDAYS:
            raise ValueError(f"unknown day {item.strip()!r}; use mon,tue,wed,thu,fri,sat,sun")
        if WEEKDAYS.index(name) not in days:
            days.append(WEEKDAYS.index(name))
    if not days:
        raise ValueError("name at least one day, for example mon,tue,wed,thu,fri")
    return tuple(sorted(days))


def _alias(env: str) -> Any:
    return AliasChoices(env)


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected comma-separated text, got {value!r}")
    return value


class Settings(BaseSettings):
    """Every knob of Nudgebot. Field docs are the README's settings table."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
        frozen=True,
    )

    slack_bot_token: SecretStr | None = Field(
        None,
        validation_alias=_alias("SLACK_BOT_TOKEN"),
        description="Bot token (xoxb-…) from the app's OAuth & Permissions page.",
    )
    slack_signing_secret: SecretStr | None = Field(
        None,
        validation_alias=_alias("SLACK_SIGNING_SECRET"),
        description="Signing secret from Basic Information; verifies every request.",
    )
    slack_app_token: SecretStr | None = Field(
        None,
        validation_alias=_alias("SLACK_APP_TOKEN"),
        description="App-level token (xapp-…, scope connections:write). Set it for Socket Mode.",
    )
    slack_api_url: str = Field(
        "https://slack.com/api/",
        validation_alias=_alias("SLACK_API_URL"),
        description="Web API base URL (GovSlack and the tests set another).",
    )
    database_url: str = Field(
        "sqlite:///nudgebot.db",
        validation_alias=_alias("DATABASE_URL"),
        description="SQLAlchemy URL: sqlite:///file.db or postgresql://user@host/db.",
    )
    content_dir: Path = Field(
        Path("nudges"),
        validation_alias=_alias("NUDGEBOT_CONTENT_DIR"),
        description="Folder of program files (*.yaml).",
    )
    host: str = Field(
        "0.0.0.0",  # noqa: S104 - the bot runs in a container behind a load balancer
        validation_alias=_alias("NUDGEBOT_HOST"),
        description="Address the HTTP server binds to.",
    )
    port: int = Field(
        3000,
        ge=1,
        le=65535,
        validation_alias=_alias("NUDGEBOT_PORT"),
        description="HTTP port (/slack/events, /healthz, /metrics, /hooks/…).",
    )
    http_threads: int = Field(
        16,
        ge=2,
        le=256,
        validation_alias=_alias("NUDGEBOT_HTTP_THREADS"),
        description="Worker threads of the HTTP server.",
    )
    working_hours: Annotated[TimeWindow, NoDecode] = Field(
        TimeWindow(time(9, 0), time(17, 30)),
        validation_alias=_alias("NUDGEBOT_WORKING_HOURS"),
        description="Default local working hours, HH:MM-HH:MM (a person may override).",
    )
    working_days: Annotated[tuple[int, ...], NoDecode] = Field(
        (0, 1, 2, 3, 4),
        validation_alias=_alias("NUDGEBOT_WORKING_DAYS"),
        description="Default working days, e.g. mon,tue,wed,thu,fri (a person may override).",
    )
    default_timezone: str = Field(
        "UTC",
        validation_alias=_alias("NUDGEBOT_DEFAULT_TIMEZONE"),
        description="IANA time zone for people whose Slack profile has none.",
    )
    weekly_cap: int = Field(
        5,
        ge=1,
        le=100,
        validation_alias=_alias("NUDGEBOT_WEEKLY_CAP"),
        description="At most this many nudges per person per week, all programs together.",
    )
    fatigue_limit: int = Field(
        3,
        ge=1,
        le=50,
        validation_alias=_alias("NUDGEBOT_FATIGUE_LIMIT"),
        description="After this many nudges in a row with no answer, a person's nudges pause "
        "and one DM offers a one-click Resume.",
    )
    answer_grace_hours: int = Field(
        24,
        ge=1,
        le=336,
        validation_alias=_alias("NUDGEBOT_ANSWER_GRACE_HOURS"),
        description="A nudge counts as unanswered (fatigue, spaced repetition) this many "
        "hours after it was sent.",
    )
    ld_leads: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=_alias("NUDGEBOT_LD_LEADS"),
        description="L&D leads: comma-separated Slack user ids (U…) and/or user group ids (S…).",
    )
    workflow_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=_alias("NUDGEBOT_WORKFLOW_CHANNELS"),
        description="Channel ids (C…, G…) whose members Workflow Builder steps may enroll "
        "into programs; empty: only L&D leads' workflow keys may (docs/delivery.md).",
    )
    triage_channel: str | None = Field(
        None,
        validation_alias=_alias("NUDGEBOT_TRIAGE_CHANNEL"),
        description="Channel id where accepted /intake requests are posted for triage.",
    )
    privacy_min_group: int = Field(
        5,
        ge=2,
        le=1000,
        validation_alias=_alias("NUDGEBOT_PRIVACY_MIN_GROUP"),
        description="Team figures appear only when at least this many people are behind them.",
    )
    premortem_template: Literal["why", "risks", "stakeholders"] = Field(
        "why",
        validation_alias=_alias("NUDGEBOT_PREMORTEM_TEMPLATE"),
        description="Default /premortem template: why, risks or stakeholders "
        "(`/premortem … --template NAME` picks another).",
    )
    premortem_vote_budget: int = Field(
        3,
        ge=1,
        le=50,
        validation_alias=_alias("NUDGEBOT_PREMORTEM_VOTE_BUDGET"),
        description="Votes each participant may spend in a pre-mortem.",
    )
    premortem_votes_per_risk: int = Field(
        1,
        ge=1,
        le=50,
        validation_alias=_alias("NUDGEBOT_PREMORTEM_VOTES_PER_RISK"),
        description="At most this many of one person's votes on one risk.",
    )
    premortem_collect_hours: float = Field(
        24,
        gt=0,
        le=24 * 30,
        validation_alias=_alias("NUDGEBOT_PREMORTEM_COLLECT_HOURS"),
        description="How long a pre-mortem collects risks before voting opens by itself.",
    )
    premortem_vote_hours: float = Field(
        24,
        gt=0,
        le=24 * 30,
        validation_alias=_alias("NUDGEBOT_PREMORTEM_VOTE_HOURS"),
        description="How long voting stays open before the decide phase starts by itself.",
    )
    premortem_top_risks: int = Field(
        3,
        ge=1,
        le=20,
        validation_alias=_alias("NUDGEBOT_PREMORTEM_TOP_RISKS"),
        description="How many top-voted risks get a prevention, an owner and a date.",
    )
    premortem_horizon_months: int = Field(
        6,
        ge=1,
        le=60,
        validation_alias=_alias("NUDGEBOT_PREMORTEM_HORIZON_MONTHS"),
        description='"Imagine it is N months from now and it failed" (default horizon).',
    )
    premortem_nudge_days_before: int = Field(
        2,
        ge=0,
        le=60,
        validation_alias=_alias("NUDGEBOT_PREMORTEM_NUDGE_DAYS_BEFORE"),
        description="Owners are nudged this many working days before a prevention is due.",
    )
    premortem_review_weeks: int = Field(
        6,
        ge=1,
        le=104,
        validation_alias=_alias("NUDGEBOT_PREMORTEM_REVIEW_WEEKS"),
        description="The facilitator is reminded to re-review open preventions this many "
        "weeks after the summary.",
    )
    plan_horizon_days: int = Field(
        14,
        ge=1,
        le=120,
        validation_alias=_alias("NUDGEBOT_PLAN_HORIZON_DAYS"),
        description="The planner writes nudges due within this many days (re-planned each minute).",
    )
    jitter_minutes: int = Field(
        30,
        ge=0,
        le=240,
        validation_alias=_alias("NUDGEBOT_JITTER_MINUTES"),
        description="A step with a fixed time goes out within this many minutes after it, "
        "spread per person so a company-wide 09:00 does not hit Slack at once.",
    )
    send_rate_per_minute: int = Field(
        300,
        ge=0,
        le=100_000,
        validation_alias=_alias("NUDGEBOT_SEND_RATE_PER_MINUTE"),
        description="The workspace's chat.postMessage budget, shared by every replica "
        "(0: no limit).",
    )
    send_max_attempts: int = Field(
        8,
        ge=1,
        le=50,
        validation_alias=_alias("NUDGEBOT_SEND_MAX_ATTEMPTS"),
        description="Temporary Slack errors are retried with backoff up to this many attempts.",
    )
    send_lease_seconds: int = Field(
        60,
        ge=15,
        le=3600,
        validation_alias=_alias("NUDGEBOT_SEND_LEASE_SECONDS"),
        description="How long a sender holds a claimed nudge before another may reconcile it.",
    )
    send_threads: int = Field(
        8,
        ge=1,
        le=64,
        validation_alias=_alias("NUDGEBOT_SEND_THREADS"),
        description="Slack calls one sender makes at a time (pacing still applies).",
    )
    send_retry_seconds: float = Field(
        5.0,
        gt=0,
        le=3600,
        validation_alias=_alias("NUDGEBOT_SEND_RETRY_SECONDS"),
        description="First wait before retrying a temporary Slack error; doubles each time.",
    )
    slack_timeout_seconds: int = Field(
        10,
        ge=1,
        le=60,
        validation_alias=_alias("NUDGEBOT_SLACK_TIMEOUT_SECONDS"),
        description="How long the sender waits for one Slack answer (then checks history).",
    )
    respect_dnd: bool = Field(
        True,
        validation_alias=_alias("NUDGEBOT_RESPECT_DND"),
        description="Hold a nudge while the person is in Do Not Disturb (dnd.info).",
    )
    hook_secrets: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict,
        validation_alias=_alias("NUDGEBOT_HOOK_SECRETS"),
        description="Secrets of POST /hooks/trigger senders: source=secret,source2=secret2.",
    )
    digest_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        "mon",
        validation_alias=_alias("NUDGEBOT_DIGEST_DAY"),
        description="Weekday of the weekly manager and L&D digests (in the reader's time zone).",
    )
    digest_time: time = Field(
        time(9, 0),
        validation_alias=_alias("NUDGEBOT_DIGEST_TIME"),
        description="Local time (HH:MM) on NUDGEBOT_DIGEST_DAY when the weekly digests go out.",
    )
    works_council_mode: bool = Field(
        False,
        validation_alias=_alias("NUDGEBOT_WORKS_COUNCIL_MODE"),
        description="Enrollment is opt-in: only people who said yes themselves get nudges.",
    )
    metric_hook_secrets: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict,
        validation_alias=_alias("NUDGEBOT_METRIC_HOOK_SECRETS"),
        description="Signing secrets of POST /hooks/metric senders (KPI feeds): "
        "source=secret,source2=secret2.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO",
        validation_alias=_alias("NUDGEBOT_LOG_LEVEL"),
        description="DEBUG, INFO, WARNING or ERROR, in any case.",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        validation_alias=_alias("NUDGEBOT_LOG_FORMAT"),
        description="json, text, or auto (JSON lines unless writing to a terminal).",
    )
    install_mode: Literal["single", "oauth"] = Field(
        "single",
        validation_alias=_alias("NUDGEBOT_INSTALL_MODE"),
        description="single: one workspace with SLACK_BOT_TOKEN; oauth: any number of "
        "workspaces install the app at /slack/install (needs SLACK_CLIENT_ID and SECRET).",
    )
    slack_client_id: str | None = Field(
        None,
        validation_alias=_alias("SLACK_CLIENT_ID"),
        description="Client ID from Basic Information (OAuth install mode).",
    )
    slack_client_secret: SecretStr | None = Field(
        None,
        validation_alias=_alias("SLACK_CLIENT_SECRET"),
        description="Client Secret from Basic Information (OAuth install mode).",
    )
    slack_scopes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=_alias("SLACK_SCOPES"),
        description="Bot scopes asked for at install (OAuth mode), comma-separated; "
        "empty means the bot scopes of config/manifest.yml.",
    )
    calendar_enabled: bool = Field(
        True,
        validation_alias=_alias("NUDGEBOT_CALENDAR_ENABLED"),
        description="People may connect their own calendar feed (false turns the feature off, "
        "e.g. where a works council has not agreed).",
    )
    calendar_key: SecretStr | None = Field(
        None,
        validation_alias=_alias("NUDGEBOT_CALENDAR_KEY"),
        description="Fernet key that encrypts calendar feed addresses at rest; without it "
        "nobody can connect a calendar.",
    )
    calendar_allow_http: bool = Field(
        False,
        validation_alias=_alias("NUDGEBOT_CALENDAR_ALLOW_HTTP"),
        description="Accept http:// feed addresses (local servers, tests); else https:// only.",
    )
    company_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=_alias("NUDGEBOT_COMPANY_DOMAINS"),
        description="The company's email domains (example.com,example.de): a calendar event "
        "with anyone else invited is external. Unset: the person's own domain.",
    )
    calendar_poll_minutes: int = Field(
        15,
        ge=1,
        le=1440,
        validation_alias=_alias("NUDGEBOT_CALENDAR_POLL_MINUTES"),
        description="How often each calendar feed is read (earlier when an event is near).",
    )
    calendar_threads: int = Field(
        8,
        ge=1,
        le=64,
        validation_alias=_alias("NUDGEBOT_CALENDAR_THREADS"),
        description="Calendar feeds read at once (threads and pooled connections).",
    )
    calendar_parse_processes: int = Field(
        2,
        ge=0,
        le=32,
        validation_alias=_alias("NUDGEBOT_CALENDAR_PARSE_PROCESSES"),
        description="Worker processes that parse calendar feeds, so polling uses every core "
        "(0: parse in the reading threads).",
    )
    calendar_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=120,
        validation_alias=_alias("NUDGEBOT_CALENDAR_TIMEOUT_SECONDS"),
        description="How long one feed read may take (connect and read) before it counts "
        "as failed.",
    )
    retention_days: int = Field(
        400,
        ge=30,
        le=3650,
        validation_alias=_alias("NUDGEBOT_RETENTION_DAYS"),
        description="Proof events and reflections older than this many days are deleted "
        "every hour; anonymous weekly counts are kept.",
    )

    @field_validator("calendar_key", mode="before")
    @classmethod
    def _calendar_key(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            return None
        raw = v.get_secret_value() if isinstance(v, SecretStr) else v
        if isinstance(raw, str):
            try:
                padded = raw.strip() + "=" * (-len(raw.strip()) % 4)
                ok = len(base64.urlsafe_b64decode(padded.encode())) == 32
            except (ValueError, binascii.Error):
                ok = False
            if not ok:
                raise ValueError(
                    "expected a Fernet key (32 bytes, url-safe base64); make one with "
                    "python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'"
                )
        return v

    @field_validator("company_domains", mode="before")
    @classmethod
    def _company_domains(cls, v: Any) -> Any:
        domains = [d.lower().lstrip("@") for d in _split_csv(v)]
        for item in domains:
            if not re.match(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$", item):
                raise ValueError(f"{item!r} is not an email domain such as example.com")
        return domains

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("a bot token starts with xoxb- (OAuth & Permissions page)")
        return v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("an app-level token starts with xapp- (Basic Information page)")
        return v

    @field_validator("slack_bot_token", "slack_app_token", "slack_signing_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_any_case(cls, v: Any) -> Any:
        return v.strip().upper() if isinstance(v, str) else v

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"expected an http(s) URL such as https://slack.com/api/, got {v!r}")
        return v if v.endswith("/") else v + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        scheme = v.split(":", 1)[0].split("+", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("use sqlite:///path.db or postgresql://user@host:5432/dbname")
        return v

    @field_validator("working_hours", mode="before")
    @classmethod
    def _working_hours(cls, v: Any) -> Any:
        if isinstance(v, str):
            return TimeWindow.parse(v)
        if not isinstance(v, TimeWindow | dict):  # a dict: Settings rebuilt from model_dump()
            raise ValueError(f"expected HH:MM-HH:MM, for example 09:00-17:30, got {v!r}")
        return v

    @field_validator("working_days", mode="before")
    @classmethod
    def _working_days(cls, v: Any) -> Any:
        if isinstance(v, str | list) and all(not isinstance(i, int) for i in v):
            return parse_weekdays(v)
        return v

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r}; use an IANA name like Europe/Sofia"
            ) from None
        return v

    @field_validator("ld_leads", mode="before")
    @classmethod
    def _ld_leads(cls, v: Any) -> Any:
        ids = _split_csv(v)
        for item in ids:
            if not re.match(r"^[UWS][A-Z0-9]{2,}$", item):
                raise ValueError(f"{item!r} is not a Slack user id (U…) or user group id (S…)")
        return ids

    @field_validator("workflow_channels", mode="before")
    @classmethod
    def _workflow_channels(cls, v: Any) -> Any:
        ids = _split_csv(v)
        for item in ids:
            if not re.match(r"^[CG][A-Z0-9]{2,}$", item):
                raise ValueError(f"{item!r} is not a channel id (C… or G…)")
        return ids

    @field_validator("slack_scopes", mode="before")
    @classmethod
    def _scopes(cls, v: Any) -> Any:
        scopes = _split_csv(v)
        for item in scopes:
            if not re.match(r"^[a-z_]+(:[a-z._]+)*$", item):
                raise ValueError(f"{item!r} is not a Slack scope such as chat:write")
        return scopes

    @field_validator("slack_client_secret", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("hook_secrets", "metric_hook_secrets", mode="before")
    @classmethod
    def _hook_secrets(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        secrets: dict[str, str] = {}
        for item in _split_csv(v):
            source, sep, secret = item.partition("=")
            if not sep or not re.match(r"^[a-z0-9][a-z0-9_-]{0,63}$", source.strip()):
                raise ValueError("expected source=secret pairs, e.g. crm=…,helpdesk=…")
            if len(secret.strip()) < 16:
                raise ValueError(f"the secret of {source.strip()!r} is shorter than 16 characters")
            secrets[source.strip()] = secret.strip()
        return secrets

    @field_validator("triage_channel", mode="before")
    @classmethod
    def _channel(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            return None
        if v is not None and not re.match(r"^[CG][A-Z0-9]{2,}$", str(v)):
            raise ValueError(
                f"{v!r} is not a Slack channel id (C… or G…); copy it from the channel details"
            )
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, TomlSource(settings_cls))

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def env_name(field: FieldInfo, name: str) -> str:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return name.upper()


def env_names() -> dict[str, str]:
    """Field name → its one public name (the environment variable)."""
    return {name: env_name(f, name) for name, f in Settings.model_fields.items()}


class TomlSource(PydanticBaseSettingsSource):
    """`config/nudgebot.toml`: the same names as the environment, e.g.
    `NUDGEBOT_WORKING_HOURS = "09:00-17:30"`. Unknown names are errors with a line."""

    path: Path = DEFAULT_TOML

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._data = self._read()

    def _read(self) -> dict[str, Any]:
        path = TomlSource.path
        if not path.is_file():
            return {}
        text = path.read_text(encoding="utf-8")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None) or _lineno_from_message(str(exc))
            raise ConfigError(f"{path}:{line}: {exc}") from None
        known = {v.lower(): v for v in env_names().values()}
        out: dict[str, Any] = {}
        for key, value in data.items():
            public = known.get(key.lower())
            if public is None:
                raise ConfigError(
                    f"{path}:{toml_line(text, key)}: {key}: unknown setting; {closest_name(key)}"
                )
            out[public] = value
        return out

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(env_name(field, field_name)), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def _lineno_from_message(message: str) -> int:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else 1


def toml_line(text: str, key: str) -> int:
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=", re.IGNORECASE)
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return 1


def load_settings(**overrides: Any) -> Settings:
    """Build Settings or raise ConfigError with one line per wrong setting, each
    saying where the value came from (environment, .env:LINE, config/nudgebot.toml:LINE)."""
    env_file = overrides.get("_env_file", Settings.model_config.get("env_file"))
    dotenv = DotenvFile(Path(env_file)) if isinstance(env_file, str | Path) else None
    unknown = unknown_variables(os.environ, dotenv)
    if unknown:
        raise ConfigError("; ".join(unknown))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, dotenv=dotenv)) from None


# Variables of the tools around the bot, not settings: the test suite's and the benchmarks'.
_NOT_SETTINGS = ("NUDGEBOT_TEST_", "NUDGEBOT_BENCH_")


class DotenvFile:
    """The names a `.env` file sets, each with the line it is set on (the last wins,
    as when it is read)."""

    _ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[str, int] = {}
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), start=1):
                m = self._ASSIGNMENT.match(line)
                if m:
                    self.lines[m.group(1).upper()] = number

    def line_of(self, name: str) -> int | None:
        return self.lines.get(name.upper())


def closest_name(name: str) -> str:
    """' (did you mean NUDGEBOT_X?)' for a misspelt setting name, or ''."""
    match = difflib.get_close_matches(name.upper(), env_names().values(), n=1, cutoff=0.6)
    return f"did you mean {match[0]}?" if match else "see the settings table in README.md"


def unknown_variables(environ: Mapping[str, str], dotenv: DotenvFile | None) -> list[str]:
    """NUDGEBOT_* names no setting has, in the environment or .env: a typo there would
    otherwise be ignored in silence while the setting keeps its default."""
    known = set(env_names().values())

    def unknown(name: str) -> bool:
        upper = name.upper()
        return (
            upper.startswith("NUDGEBOT_")
            and upper not in known
            and not upper.startswith(_NOT_SETTINGS)
        )

    problems = [
        f"environment variable {name}: unknown setting; {closest_name(name)}"
        for name in sorted(environ)
        if unknown(name)
    ]
    if dotenv is not None:
        problems += [
            f"{dotenv.path}:{line}: {name}: unknown setting; {closest_name(name)}"
            for name, line in sorted(dotenv.lines.items(), key=lambda item: item[1])
            if unknown(name)
        ]
    return problems


def describe_validation_error(exc: ValidationError, *, dotenv: DotenvFile | None = None) -> str:
    names = env_names()
    toml_text = TomlSource.path.read_text("utf-8") if TomlSource.path.is_file() else ""
    lines = []
    for err in exc.errors():
        loc = str(err["loc"][0]) if err["loc"] else "?"
        # The location is the field's name or, read from a source, its public name.
        field = next((f for f, public in names.items() if loc in (f, public)), loc)
        public = names.get(field, loc)
        message = plain_message(err, Settings.model_fields.get(field))
        where = _where_set(public, dotenv, toml_text)
        lines.append(f"invalid setting {public}: {message}{where}")
    return "; ".join(lines)


def _where_set(public: str, dotenv: DotenvFile | None, toml_text: str) -> str:
    """Which source gave the value: the same order the settings are read in."""
    if any(name.upper() == public for name in os.environ):
        return " (set in the environment)"
    line = dotenv.line_of(public) if dotenv is not None else None
    if line is not None and dotenv is not None:
        return f" (set in {dotenv.path}:{line})"
    if toml_text and re.search(rf"^\s*{public}\s*=", toml_text, re.M | re.I):
        return f" (set in {TomlSource.path}:{toml_line(toml_text, public)})"
    return ""


def plain_message(err: Any, field: FieldInfo | None) -> str:
    """What is wrong, in words a person setting a variable uses (not pydantic's)."""
    kind = str(err.get("type", ""))
    got = err.get("input")
    shown = f", got {got!r}" if isinstance(got, str | int | float) else ""
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected a whole number{_range(field)}{shown}"
    if kind in ("float_parsing", "float_type"):
        return f"expected a number{_range(field)}{shown}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"expected a number{_range(field)}{shown}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false{shown}"
    if kind == "literal_error":
        options = str(err.get("ctx", {}).get("expected", "")).replace("'", "")
        return f"expected one of {options}{shown}"
    if kind.startswith("time_"):
        return f"expected a time of day as HH:MM, for example 09:00{shown}"
    if kind in ("string_too_short", "missing"):
        return "must not be empty"
    if kind in ("string_type", "dict_type", "list_type", "tuple_type"):
        return f"expected text (in quotes in a TOML file){shown}"
    return str(err.get("msg", "invalid value")).rstrip(".").lower() + shown


def _range(field: FieldInfo | None) -> str:
    bounds: dict[str, float] = {}
    for item in field.metadata if field is not None else ():
        for name in ("ge", "gt", "le", "lt"):
            if getattr(item, name, None) is not None:
                bounds[name] = float(getattr(item, name))
    low = f"{bounds['ge']:g}" if "ge" in bounds else ""
    low = low or (f"above {bounds['gt']:g}" if "gt" in bounds else "")
    high = f"{bounds['le']:g}" if "le" in bounds else ""
    high = high or (f"below {bounds['lt']:g}" if "lt" in bounds else "")
    if low and high:
        return f" from {low} to {high}" if "ge" in bounds else f" {low} and at most {high}"
    if low:
        return f" of at least {low}" if "ge" in bounds else f" {low}"
    return f" of at most {high}" if high else ""


def display_value(value: Any) -> str:
    """A setting as a person writes it; secrets show only whether they are set."""
    if isinstance(value, SecretStr):
        return "(set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if value is None:
        return "(not set)"
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return ",".join(WEEKDAYS[v] for v in value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}=(set)" for k in value)
    return str(value)


def settings_markdown() -> str:
    """The README's settings table, generated so it cannot drift from the code."""
    lines = ["| Setting | Default | What it does |", "|---|---|---|"]
    for field, info in Settings.model_fields.items():
        default = info.get_default(call_default_factory=True)
        shown = "" if default in (None, [], {}) else f"`{display_value(default)}`"
        description = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{env_name(info, field)}` | {shown} | {description} |")
    return "\n".join(lines)
