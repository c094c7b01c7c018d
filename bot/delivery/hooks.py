"""The trigger webhook POST /hooks/trigger (bot/surface.py mounts it)."""

from __future__ import annotations

from bot.delivery import triggers
from bot.services import HookResponse, Services


def trigger_hook(services: Services, body: bytes, headers: dict[str, str]) -> HookResponse:
    result = triggers.handle_hook(
        services.session, services.settings, services.clock.now(), headers, body
    )
    return HookResponse(result.status, result.body)
