"""The signed KPI webhook POST /hooks/metric (bot/surface.py mounts it)."""

from __future__ import annotations

import logging

from bot.digest import service
from bot.errors import UserError
from bot.services import HookResponse, Services
from bot.slack import install

log = logging.getLogger(__name__)


def metric_hook(services: Services, body: bytes, headers: dict[str, str]) -> HookResponse:
    """POST /hooks/metric: a bad signature is refused before anything is read or stored."""
    now = services.clock.now()
    try:
        source = service.verify_metric_request(
            body=body, headers=headers, settings=services.settings, now=now
        )
    except service.BadSignature as exc:
        log.warning("metric hook refused: %s", exc)
        return HookResponse(401, {"ok": False, "error": str(exc)})
    try:
        program, value, day, team = service.parse_metric_payload(body, today=now.date())
        workspace = service.parse_metric_workspace(body)
        if services.settings.install_mode == "oauth" and workspace is None:
            raise UserError(
                "workspace: required when several workspaces are installed "
                '(the Slack team id the value is about, e.g. "workspace": "T0123ABCD")'
            )
        with services.session() as session:
            row = service.record_metric(
                session,
                program_id=program,
                value=value,
                observed_on=day,
                team=team,
                source=f"webhook:{source}",
                now=now,
                workspace_id=install.stored(install.workspace_scope(services.settings, workspace)),
            )
            row_id = row.id
    except UserError as exc:
        return HookResponse(400, {"ok": False, "error": str(exc)})
    log.info("metric observation %s stored from %s", row_id, source)
    return HookResponse(200, {"ok": True, "id": row_id})
