"""Errors a person can act on. The CLI prints them as one line, never a traceback."""

from __future__ import annotations

from collections.abc import Mapping


class NudgebotError(Exception):
    """Base of errors whose message is meant for a person. `exit_code` is the CLI's."""

    exit_code = 1


class ConfigError(NudgebotError):
    """A setting or a config file is wrong. The message names the setting or file:line."""

    exit_code = 2


class UserError(NudgebotError):
    """Bad input to a command: a missing file, an unknown program id, a malformed CSV."""

    exit_code = 1


class FieldErrors(UserError):
    """A form is not right yet: {block_id: what to fix}. Raised by a view submission's
    handler before it acks; the Slack router answers `response_action="errors"`, so
    each message shows beside its field and what the person typed stays."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


class Refusal(UserError):
    """A refusal already worded in full for the person: shown as it is, whatever the
    route's own wording would make of other errors."""


class PermissionDenied(NudgebotError):
    """The actor may not do this. Listeners turn it into an ephemeral explanation."""

    exit_code = 3


class ServiceUnavailable(NudgebotError):
    """The database or Slack cannot be reached now. Nothing was changed; the same
    command may work later. Its own exit code, so a script can tell it from bad input."""

    exit_code = 4
