"""Web API methods of the local Slack: views and the two-step file upload."""

from __future__ import annotations

import copy
import mimetypes

from .blocks import view_errors
from .records import JSON, SlackError, UploadedFile, ViewRecord, invalid_arguments
from .webapi import MAX_VIEW_STACK, Call, WebApi, api
from .workspace import Workspace

# -- views ------------------------------------------------------------------


def _view_payload(call: Call, *, home: bool) -> JSON:
    view = call.json("view")
    if view is None:
        raise invalid_arguments("missing required field: view")
    errors = view_errors(view, home=home)
    if errors or not isinstance(view, dict):
        raise invalid_arguments(*errors)
    return view


@api("views.open")
def views_open(self: WebApi, call: Call) -> JSON:
    payload = _view_payload(call, home=False)
    self.ws.check_external_id(payload.get("external_id", ""))
    trigger = self.ws.exchange_trigger(
        call.text("trigger_id") or call.text("interactivity_pointer")
    )
    view_id = self.ws.new_id("V")
    view = self.ws.build_view(payload, view_id=view_id, root_id=view_id, previous_id=None)
    self.ws.views[view_id] = ViewRecord(view, trigger.user_id, view_id)
    self.ws.view_stacks[view_id] = [view_id]
    return {"view": copy.deepcopy(view)}


@api("views.push")
def views_push(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    payload = _view_payload(call, home=False)
    ws.check_external_id(payload.get("external_id", ""))
    trigger = ws.exchange_trigger(call.text("trigger_id") or call.text("interactivity_pointer"))
    # Push onto the modal the interaction came from, else the user's latest modal.
    source = ws.views.get(trigger.view_id or "")
    if source is None:
        modals = [
            r
            for r in ws.views.values()
            if r.user_id == trigger.user_id and r.view["type"] == "modal"
        ]
        source = modals[-1] if modals else None
    if source is None:
        raise SlackError("not_found")
    stack = ws.view_stacks[source.root_id]
    if len(stack) >= MAX_VIEW_STACK:
        raise SlackError("push_limit_reached")
    view_id = ws.new_id("V")
    view = ws.build_view(payload, view_id=view_id, root_id=source.root_id, previous_id=stack[-1])
    ws.views[view_id] = ViewRecord(view, trigger.user_id, source.root_id)
    stack.append(view_id)
    return {"view": copy.deepcopy(view)}


@api("views.update")
def views_update(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    view_id, external_id = call.text("view_id"), call.text("external_id")
    if not view_id and not external_id:
        raise invalid_arguments("either view_id or external_id is required")
    record = ws.find_view(view_id, external_id)
    expected_hash = call.text("hash")
    if expected_hash and expected_hash != record.view["hash"]:
        raise SlackError("hash_conflict")
    payload = _view_payload(call, home=record.view["type"] == "home")
    ws.check_external_id(payload.get("external_id", ""), except_view=record.view["id"])
    old = record.view
    # A view keeps its external_id when the update payload does not restate it.
    payload = {"external_id": old.get("external_id", ""), **payload}
    record.view = ws.build_view(
        payload, view_id=old["id"], root_id=old["root_view_id"], previous_id=old["previous_view_id"]
    )
    return {"view": copy.deepcopy(record.view)}


@api("views.publish")
def views_publish(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    user = ws.user(call.text("user_id"))
    payload = _view_payload(call, home=True)
    view_id = ws.home_views.get(user.id)
    current = ws.views.get(view_id or "")
    expected_hash = call.text("hash")
    if current and expected_hash and expected_hash != current.view["hash"]:
        raise SlackError("hash_conflict")
    view_id = view_id or ws.new_id("V")
    view = ws.build_view(payload, view_id=view_id, root_id=view_id, previous_id=None)
    ws.views[view_id] = ViewRecord(view, user.id, view_id)
    ws.home_views[user.id] = view_id
    return {"view": copy.deepcopy(view)}


# -- files (the two-step external upload) -----------------------------------


@api("files.getUploadURLExternal")
def files_get_upload_url_external(self: WebApi, call: Call) -> JSON:
    filename = call.required("filename")
    length = call.number("length", 0, low=0, high=1_000_000_000)
    if length <= 0:
        raise invalid_arguments("length must be a positive integer")
    file_id = self.ws.new_id("F")
    self.ws.files[file_id] = UploadedFile(
        file_id, filename, length, self.ws.now(), alt_txt=call.text("alt_txt") or ""
    )
    return {"upload_url": f"{self.public_url()}/upload/v1/{file_id}", "file_id": file_id}


def _file_object(ws: Workspace, upload: UploadedFile, title: str, channel_id: str | None) -> JSON:
    mimetype = (
        "image/png"
        if (upload.data or b"").startswith(b"\x89PNG")
        else (mimetypes.guess_type(upload.filename)[0] or "application/octet-stream")
    )
    return {
        "id": upload.id,
        "created": int(upload.created),
        "timestamp": int(upload.created),
        "name": upload.filename,
        "title": title,
        "mimetype": mimetype,
        "filetype": upload.filename.rsplit(".", 1)[-1].lower()
        if "." in upload.filename
        else "binary",
        "user": ws.bot_user_id,
        "size": len(upload.data or b""),
        "alt_txt": upload.alt_txt,
        "url_private": f"https://files.slack.com/files-pri/{ws.team_id}-{upload.id}/{upload.filename}",
        "permalink": f"https://{ws.team_domain}.slack.com/files/{ws.bot_user_id}/{upload.id}/{upload.filename}",
        "channels": [channel_id] if channel_id else [],
        "is_public": False,
    }


@api("files.completeUploadExternal")
def files_complete_upload_external(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    entries = call.json("files")
    if not isinstance(entries, list) or not entries:
        raise invalid_arguments("files must be a non-empty JSON array")
    channel_id = call.text("channel_id") or call.text("channels")
    channel = ws.readable(ws.channel(channel_id)) if channel_id else None
    files: list[JSON] = []
    for entry in entries:
        upload = ws.files.get(entry.get("id", "") if isinstance(entry, dict) else "")
        # The bytes must have reached the upload URL before completion.
        if upload is None or upload.data is None or upload.completed:
            raise SlackError("file_not_found")
        upload.completed = True
        files.append(
            _file_object(
                ws, upload, entry.get("title") or upload.filename, channel.id if channel else None
            )
        )
    if channel is not None:
        message = {
            **ws.bot_message_base(),
            "text": call.text("initial_comment") or "",
            "files": files,
            "upload": True,
        }
        thread_ts = self.thread_ts(channel, call)
        if thread_ts:
            message["thread_ts"] = thread_ts
        ws.append_message(channel, message)
    return {"files": files}
