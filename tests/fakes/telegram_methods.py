"""The Telegram Bot API methods of the stand-in: ``MethodsMixin`` gives ``FakeTelegram`` the sending methods of
``SEND_METHODS`` (one ``_send``: text, files uploaded or by file_id, ``copyMessage``; a topic that is closed or
deleted refuses them) and a handler ``m_<method>`` for each method with its own handling (getMe, getUpdates,
copyMessages, getChat, getChatMember, webhooks, answerCallbackQuery, forum topics, getFile), the ``/file`` download
route, and the ``_ok`` / ``_error`` answers in Telegram's format. The dispatch, the faults and the limits are in
``tests.fakes.telegram_api``; the handlers use the state ``FakeTelegram.__init__`` sets up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any

from aiohttp import web

from tests.fakes.telegram_records import Sent, Topic

SEND_METHODS = {
    "sendMessage": "text",
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVoice": "voice",
    "sendVideo": "video",
    "sendSticker": "sticker",
    "sendAudio": "audio",
    "copyMessage": "copy",
    "sendVideoNote": "video_note",
}
FILE_FIELDS = {"photo", "document", "voice", "video", "sticker", "audio", "video_note"}
CONTENT_FIELDS = {"location", "contact", "poll", "venue", "dice"}  # no text, no file: only copyMessage shows them


class MethodsMixin:
    """The Bot API methods ``FakeTelegram`` answers, as Telegram does."""

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(code: int, description: str, **parameters: Any) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    def _thread_error(self, params: dict) -> web.Response | None:
        thread = params.get("message_thread_id")
        chat = int(params.get("chat_id", 0))
        if thread is None or chat != self.staff_chat:
            return None
        topic = self.topics.get(int(thread))
        if topic is None or topic.deleted:
            return self._error(400, "Bad Request: message thread not found")
        if topic.closed:
            return self._error(400, "Bad Request: TOPIC_CLOSED")
        return None

    def _copy_record(self, rec: Sent, src: tuple[int, int]) -> None:
        original = self.messages[src]
        rec.copy_of = src
        rec.text = original.get("text") or original.get("caption")
        for f in FILE_FIELDS:
            if f in original:
                obj = original[f]
                rec.file = (obj[-1] if isinstance(obj, list) else obj)["file_id"]
                rec.kind = f"copy:{f}"
        for f in CONTENT_FIELDS & original.keys():
            rec.kind = f"copy:{f}"

    def _send(self, method: str, params: dict) -> web.Response:
        err = self._thread_error(params)
        if err is not None:
            return err
        chat = int(params["chat_id"])
        kind = SEND_METHODS[method]
        mid = next(self._msg_ids[chat])
        thread = params.get("message_thread_id")
        reply = params.get("reply_parameters") or {}
        rec = Sent(
            method,
            chat,
            mid,
            int(thread) if thread is not None else None,
            kind,
            text=params.get("text") or params.get("caption"),
            reply_markup=params.get("reply_markup"),
            reply_to=reply.get("message_id") or params.get("reply_to_message_id"),
            ts=time.monotonic(),
            parse_mode=params.get("parse_mode") or None,
            entities=params.get("entities") or params.get("caption_entities"),
        )
        result: dict[str, Any] = {
            "message_id": mid,
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private" if chat > 0 else "supergroup"},
        }
        if thread is not None:
            result.update(message_thread_id=int(thread), is_topic_message=True)
        if kind == "copy":
            src = (int(params["from_chat_id"]), int(params["message_id"]))
            if src not in self.messages:
                return self._error(400, "Bad Request: message to copy not found")
            self._copy_record(rec, src)
            self.sent.append(rec)
            return self._ok({"message_id": mid})
        if kind == "text":
            result["text"] = rec.text or ""
        else:
            value = params.get(kind)
            if isinstance(value, tuple):  # an upload
                rec.data, rec.filename = value
                rec.file = self.add_file(rec.data, rec.filename)
            elif isinstance(value, str):
                if value not in self.files:
                    return self._error(400, "Bad Request: wrong file identifier/HTTP URL specified")
                rec.file = value
                rec.data, rec.filename = self.files[value]
            else:
                return self._error(400, f"Bad Request: there is no {kind} in the request")
            obj = {"file_id": rec.file, "file_unique_id": rec.file, "file_size": len(rec.data or b"")}
            if kind == "photo":
                result["photo"] = [{**obj, "width": 90, "height": 90}]
            elif kind == "sticker":
                result["sticker"] = {
                    **obj,
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "type": "regular",
                }
            elif kind == "video_note":
                result[kind] = {**obj, "length": 240, "duration": 1}
            elif kind in ("voice", "audio", "video"):
                result[kind] = {**obj, "duration": 1, **({"width": 1, "height": 1} if kind == "video" else {})}
            else:
                result["document"] = obj
            if rec.text:
                result["caption"] = rec.text
        self.messages[(chat, mid)] = result
        self.sent.append(rec)
        return self._ok(result)

    # --- methods with their own handling
    async def m_getMe(self, params: dict) -> web.Response:
        bot_id = int(self.token.split(":")[0])
        return self._ok({"id": bot_id, "is_bot": True, "first_name": "Support", "username": self.bot_username})

    async def m_getUpdates(self, params: dict) -> web.Response:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()  # confirmed
        if not self._updates and timeout:
            async with self._cond:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._cond.wait_for(lambda: bool(self._updates) or self.closing)
        batch = [u for u in self._updates if u["update_id"] >= offset][:limit]
        return self._ok(batch)

    async def m_copyMessages(self, params: dict) -> web.Response:
        """Several messages of one chat copied in one call: an array of MessageId (missing ones are skipped)."""
        err = self._thread_error(params)
        if err is not None:
            return err
        chat, source = int(params["chat_id"]), int(params["from_chat_id"])
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            return self._error(400, "Bad Request: message_ids must be a list of 1-100 identifiers")
        if any(b <= a for a, b in itertools.pairwise(ids)):
            return self._error(400, "Bad Request: message identifiers must be in a strictly increasing order")
        thread = params.get("message_thread_id")
        result = []
        for message_id in ids:
            if (source, int(message_id)) not in self.messages:
                continue
            mid = next(self._msg_ids[chat])
            rec = Sent("copyMessages", chat, mid, int(thread) if thread is not None else None, "copy")
            rec.ts = time.monotonic()
            self._copy_record(rec, (source, int(message_id)))
            self.sent.append(rec)
            result.append({"message_id": mid})
        return self._ok(result)

    async def m_getChat(self, params: dict) -> web.Response:
        chat = int(params.get("chat_id", 0))
        if chat != self.staff_chat or not self.staff_exists:
            return self._error(400, "Bad Request: chat not found")
        return self._ok(
            {
                **self._staff_chat(),
                "type": self.staff_type,
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    k: True
                    for k in (
                        "unlimited_gifts",
                        "limited_gifts",
                        "unique_gifts",
                        "premium_subscription",
                        "gifts_from_channels",
                    )
                },
            }
        )

    async def m_getChatMember(self, params: dict) -> web.Response:
        chat = int(params.get("chat_id", 0))
        if chat != self.staff_chat or not self.staff_exists:
            return self._error(400, "Bad Request: chat not found")
        user = int(params.get("user_id", 0))
        if user != self.bot_user()["id"]:
            return self._ok({"status": "member", "user": self._user(user)})
        if self.bot_status == "administrator":
            rights = {
                k: True
                for k in (
                    "can_be_edited",
                    "can_manage_chat",
                    "can_change_info",
                    "can_delete_messages",
                    "can_invite_users",
                    "can_restrict_members",
                    "can_pin_messages",
                    "can_promote_members",
                    "can_manage_video_chats",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                    "can_send_welcome_messages",
                )
            }
            rights["can_be_edited"] = False
            return self._ok(
                {
                    "status": "administrator",
                    "user": self.bot_user(),
                    "is_anonymous": False,
                    "can_manage_topics": self.can_manage_topics,
                    **rights,
                }
            )
        return self._ok({"status": self.bot_status, "user": self.bot_user()})

    async def m_setWebhook(self, params: dict) -> web.Response:
        self.webhook = {"url": params.get("url"), "secret_token": params.get("secret_token")}
        return self._ok(True)

    async def m_deleteWebhook(self, params: dict) -> web.Response:
        self.webhook = None
        return self._ok(True)

    async def m_getWebhookInfo(self, params: dict) -> web.Response:
        url = (self.webhook or {}).get("url") or ""
        return self._ok({"url": url, "has_custom_certificate": False, "pending_update_count": len(self._updates)})

    async def m_answerCallbackQuery(self, params: dict) -> web.Response:
        self.callback_answers.append(params)
        return self._ok(True)

    async def m_createForumTopic(self, params: dict) -> web.Response:
        if int(params["chat_id"]) != self.staff_chat:
            return self._error(400, "Bad Request: chat not found")
        if not self.forum:
            return self._error(400, "Bad Request: the chat is not a forum")
        thread = next(self._topic_ids)
        self.topics[thread] = Topic(thread, params["name"], names=[params["name"]])
        self.sent.append(
            Sent("createForumTopic", self.staff_chat, thread, thread, "topic", text=params["name"], ts=time.monotonic())
        )
        return self._ok({"message_thread_id": thread, "name": params["name"], "icon_color": 7322096})

    async def m_editForumTopic(self, params: dict) -> web.Response:
        err = self._thread_error(params)
        if err is not None:
            return err
        topic = self.topics[int(params["message_thread_id"])]
        if params.get("name"):
            if params["name"] == topic.name:
                return self._error(400, "Bad Request: TOPIC_NOT_MODIFIED")
            topic.name = params["name"]
            topic.names.append(topic.name)
        return self._ok(True)

    async def m_reopenForumTopic(self, params: dict) -> web.Response:
        topic = self.topics.get(int(params["message_thread_id"]))
        if topic is None or topic.deleted:
            return self._error(400, "Bad Request: message thread not found")
        if not topic.closed:
            return self._error(400, "Bad Request: TOPIC_NOT_CLOSED")
        topic.closed = False
        return self._ok(True)

    async def m_deleteForumTopic(self, params: dict) -> web.Response:
        topic = self.topics.get(int(params["message_thread_id"]))
        if topic is None:
            return self._error(400, "Bad Request: message thread not found")
        topic.deleted = True
        return self._ok(True)

    async def m_editMessageReplyMarkup(self, params: dict) -> web.Response:
        return self._ok(True)

    async def m_getFile(self, params: dict) -> web.Response:
        file_id = params.get("file_id")
        if file_id not in self.files:
            return self._error(400, "Bad Request: invalid file_id")
        data, name = self.files[file_id]
        return self._ok(
            {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_size": len(data),
                "file_path": f"files/{file_id}/{name}",
            }
        )

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        parts = request.match_info["path"].split("/")
        if len(parts) < 2 or parts[1] not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[parts[1]][0])
