"""Web API methods of the local Slack: auth, chat, pins and reactions."""

from __future__ import annotations

from .records import JSON, SlackError
from .webapi import Call, WebApi, api, rendered

# -- auth -------------------------------------------------------------------


@api("auth.test")
def auth_test(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    user = ws.user(call.auth.user_id)
    result: JSON = {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "user": user.name,
        "team_id": ws.team_id,
        "user_id": user.id,
        "is_enterprise_install": False,
    }
    if call.auth.bot_id:
        result["bot_id"] = call.auth.bot_id
    return result


# -- chat -------------------------------------------------------------------


@api("chat.postMessage")
def chat_post_message(self: WebApi, call: Call) -> JSON:
    channel = self.postable(call)
    message = {**self.ws.bot_message_base(), **self.content(call)}
    thread_ts = self.thread_ts(channel, call)
    if thread_ts:
        message["thread_ts"] = thread_ts
        if call.flag("reply_broadcast"):
            message["subtype"] = "thread_broadcast"
    self.ws.append_message(channel, message)
    return {
        "channel": channel.id,
        "ts": message["ts"],
        "message": rendered(message, include_metadata=True),
    }


@api("chat.update")
def chat_update(self: WebApi, call: Call) -> JSON:
    # chat.update wants the conversation id; a user id is not accepted here.
    channel = self.ws.channel(call.text("channel"))
    message = self.own_message(
        channel, call.required("ts", "message_not_found"), "cant_update_message"
    )
    content = self.content(call, required=False)
    if not content and "blocks" not in call.params:
        raise SlackError("no_text")
    message.update(content)
    message["edited"] = {"user": self.ws.bot_user_id, "ts": self.ws.next_ts()}
    return {
        "channel": channel.id,
        "ts": message["ts"],
        "text": message.get("text", ""),
        "message": rendered(message, include_metadata=True),
    }


@api("chat.postEphemeral")
def chat_post_ephemeral(self: WebApi, call: Call) -> JSON:
    channel = self.postable(call, allow_user=False)
    user = self.ws.user(call.required("user", "user_not_found"))
    if user.id not in channel.members:
        raise SlackError("user_not_in_channel")
    content = self.content(call)
    message_ts = self.ws.next_ts()
    self.ws.ephemerals.append(
        {
            "source": "chat.postEphemeral",
            "channel": channel.id,
            "user": user.id,
            "thread_ts": self.thread_ts(channel, call),
            "message_ts": message_ts,
            **content,
        }
    )
    return {"message_ts": message_ts}


@api("chat.delete")
def chat_delete(self: WebApi, call: Call) -> JSON:
    channel = self.ws.channel(call.text("channel"))
    message = self.own_message(
        channel, call.required("ts", "message_not_found"), "cant_delete_message"
    )
    channel.messages.remove(message)
    channel.pins.discard(message["ts"])
    return {"channel": channel.id, "ts": message["ts"]}


@api("chat.getPermalink")
def chat_get_permalink(self: WebApi, call: Call) -> JSON:
    channel = self.ws.channel(call.text("channel"))
    message = self.ws.message(channel, call.required("message_ts", "message_not_found"))
    archive = f"https://{self.ws.team_domain}.slack.com/archives/{channel.id}"
    link = f"{archive}/p{message['ts'].replace('.', '')}"
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != message["ts"]:
        link += f"?thread_ts={thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


# -- pins and reactions -----------------------------------------------------


@api("pins.add")
def pins_add(self: WebApi, call: Call) -> JSON:
    channel = self.ws.readable(self.ws.channel(call.text("channel")))
    message = self.ws.message(channel, call.required("timestamp", "no_item_specified"))
    if message["ts"] in channel.pins:
        raise SlackError("already_pinned")
    channel.pins.add(message["ts"])
    message["pinned_to"] = [channel.id]
    return {}


@api("reactions.add")
def reactions_add(self: WebApi, call: Call) -> JSON:
    channel = self.ws.readable(self.ws.channel(call.text("channel")))
    message = self.ws.message(channel, call.required("timestamp", "no_item_specified"))
    name = (call.text("name") or "").strip(":")
    if not name:
        raise SlackError("invalid_name")
    reactions: list[JSON] = message.setdefault("reactions", [])
    reaction = next((r for r in reactions if r["name"] == name), None)
    if reaction is None:
        reaction = {"name": name, "users": [], "count": 0}
        reactions.append(reaction)
    if call.auth.user_id in reaction["users"]:
        raise SlackError("already_reacted")
    reaction["users"].append(call.auth.user_id)
    reaction["count"] += 1
    return {}
