"""The feed address, encrypted at rest with NUDGEBOT_CALENDAR_KEY (Fernet: AES and
an HMAC). Without a key the feature is off: an address is never stored in clear."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from bot.errors import UserError
from bot.settings import Settings

NO_KEY = (
    "Calendar connections are not set up here: the admin has to set NUDGEBOT_CALENDAR_KEY "
    "(see docs/delivery.md, Calendar triggers) before an address can be stored safely."
)
OFF = "Calendar connections are turned off in this workspace (NUDGEBOT_CALENDAR_ENABLED=false)."


def _fernet(settings: Settings) -> Fernet:
    if not settings.calendar_enabled:
        raise UserError(OFF)
    if settings.calendar_key is None:
        raise UserError(NO_KEY)
    return Fernet(settings.calendar_key.get_secret_value().encode())


def available(settings: Settings) -> str | None:
    """Why calendars cannot be connected here, or None when they can."""
    if not settings.calendar_enabled:
        return OFF
    if settings.calendar_key is None:
        return NO_KEY
    return None


def seal(settings: Settings, address: str) -> str:
    return _fernet(settings).encrypt(address.encode()).decode()


def open_sealed(settings: Settings, token: str) -> str | None:
    """The address, or None when the key changed (the person reconnects)."""
    try:
        return _fernet(settings).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
