"""What a CLI command needs, built lazily: settings first, the database only if used."""

from __future__ import annotations

from functools import cached_property

import click

from bot import migrate
from bot.errors import UserError
from bot.services import Services
from bot.settings import Settings, load_settings


class Runtime:
    @cached_property
    def settings(self) -> Settings:
        return load_settings()

    @cached_property
    def services(self) -> Services:
        return Services.create(self.settings)

    def migrated_services(self) -> Services:
        """Services on a database at the newest migration, or a clear hint to get there."""
        services = self.services
        if migrate.pending(services.engine):
            raise UserError("the database is not up to date; run `nudgebot db upgrade` first")
        return services

    def close(self) -> None:
        if "services" in self.__dict__:
            self.services.close()


pass_runtime = click.make_pass_decorator(Runtime, ensure=True)
