"""The updates a test makes the Telegram stand-in serve: ``UpdatesMixin`` gives ``FakeTelegram`` the customers'
side (``customer_says`` / ``customer_sends_photo`` / ``customer_sends_document`` / ``press`` / ``customer_edits``)
and the operators' side in the staff group (``operator_says``, with ``anonymous=True`` as the group itself;
``operator_sends_photo`` / ``operator_press`` / ``operator_edits``), queued for getUpdates (``push_update``;
``take_update`` removes the oldest) or POSTed to the bot's webhook with ``deliver``; ``add_file`` stores a file the
bot can download; ``bot_user`` is the bot as a Telegram user. The mixin uses the state ``FakeTelegram.__init__`` sets
up (the update queue and its condition, message and file counters, ``messages``, ``files``, ``sent``, ``webhook``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from tests.fakes.telegram_records import Sent

ANONYMOUS_BOT = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}


class UpdatesMixin:
    """The test side of ``FakeTelegram``: messages, edits and button presses of customers and operators."""

    def push_update(self, update: dict) -> dict:
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        asyncio.get_event_loop().create_task(self._notify())
        return update

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    @staticmethod
    def _user(user_id: int, name: str = "Anna", username: str | None = None, lang: str | None = "ru") -> dict:
        first, _, last = name.partition(" ")
        u: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first}
        if last:
            u["last_name"] = last
        if username:
            u["username"] = username
        if lang:
            u["language_code"] = lang
        return u

    def _message(self, chat: dict, sender: dict, text: str | None, **extra: Any) -> dict:
        mid = next(self._msg_ids[chat["id"]])
        msg: dict[str, Any] = {"message_id": mid, "date": int(time.time()), "chat": chat, "from": sender}
        if text is not None:
            msg["text"] = text
        msg.update({k: v for k, v in extra.items() if v is not None})
        self.messages[(chat["id"], mid)] = msg
        return msg

    def add_file(self, data: bytes, name: str = "file.bin") -> str:
        file_id = f"F{next(self._file_ids)}-{name}"
        self.files[file_id] = (data, name)
        return file_id

    def customer_says(
        self,
        user_id: int,
        text: str | None = None,
        *,
        name: str = "Anna",
        username: str | None = None,
        lang: str | None = "ru",
        **extra: Any,
    ) -> dict:
        """A customer writes to the bot in private (``extra``: photo=..., document=..., caption=...)."""
        chat = {"id": user_id, "type": "private", "first_name": name.split()[0]}
        msg = self._message(chat, self._user(user_id, name, username, lang), text, **extra)
        return self.push_update({"message": msg})

    def customer_sends_photo(
        self, user_id: int, data: bytes = b"\x89PNG fake photo", caption: str | None = None, **kw: Any
    ) -> dict:
        file_id = self.add_file(data, "photo.jpg")
        photo = [{"file_id": file_id, "file_unique_id": file_id, "width": 90, "height": 90, "file_size": len(data)}]
        return self.customer_says(user_id, None, photo=photo, caption=caption, **kw)

    def customer_sends_document(self, user_id: int, data: bytes, filename: str = "doc.pdf", **kw: Any) -> dict:
        file_id = self.add_file(data, filename)
        doc = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_name": filename,
            "mime_type": "application/pdf",
            "file_size": len(data),
        }
        return self.customer_says(user_id, None, document=doc, **kw)

    def press(self, user_id: int, data: str, *, name: str = "Anna", lang: str | None = "ru") -> dict:
        """A customer presses an inline button with this callback data."""
        chat = {"id": user_id, "type": "private", "first_name": name}
        msg = {"message_id": 1, "date": int(time.time()), "chat": chat, "text": "(buttons)"}
        cq = {
            "id": f"cq{next(self._update_ids)}",
            "from": self._user(user_id, name, None, lang),
            "chat_instance": "1",
            "message": msg,
            "data": data,
        }
        return self.push_update({"callback_query": cq})

    def _staff_chat(self) -> dict:
        return {"id": self.staff_chat, "type": "supergroup", "title": "Support staff", "is_forum": self.forum}

    def bot_user(self) -> dict:
        return {
            "id": int(self.token.split(":")[0]),
            "is_bot": True,
            "first_name": "Support",
            "username": self.bot_username,
        }

    def operator_says(
        self,
        thread_id: int | None,
        text: str | None = None,
        *,
        user_id: int = 501,
        name: str = "Olga Petrova",
        reply_to: int | None = None,
        anonymous: bool = False,
        signature: str | None = None,
        **extra: Any,
    ) -> dict:
        """An operator writes in the staff group: in a topic (``thread_id``) and/or as a reply (to a message of
        the bot: its ``from`` is the bot). ``anonymous``: an administrator posting as the group."""
        chat = self._staff_chat()
        if thread_id is not None:
            extra.setdefault("message_thread_id", thread_id)
            extra.setdefault("is_topic_message", True)
        if reply_to is not None:
            replied: dict[str, Any] = {"message_id": reply_to, "date": int(time.time()), "chat": chat}
            if any(s.chat_id == self.staff_chat and s.message_id == reply_to for s in self.sent):
                replied["from"] = self.bot_user()
            elif (self.staff_chat, reply_to) in self.messages:
                replied["from"] = self.messages[(self.staff_chat, reply_to)].get("from")
            extra["reply_to_message"] = replied
        sender = self._user(user_id, name, None, "en")
        if anonymous:
            sender = ANONYMOUS_BOT
            extra["sender_chat"] = {k: v for k, v in chat.items() if k != "is_forum"}
            extra["author_signature"] = signature
        msg = self._message(chat, sender, text, **extra)
        return self.push_update({"message": msg})

    def customer_edits(self, update: dict, text: str) -> dict:
        """The customer edits the message of ``update`` (as returned by ``customer_says``)."""
        return self._edit(update, text)

    def operator_edits(self, update: dict, text: str) -> dict:
        return self._edit(update, text)

    def _edit(self, update: dict, text: str) -> dict:
        msg = {**update["message"], "edit_date": int(time.time())}
        msg["caption" if "caption" in msg else "text"] = text
        self.messages[(msg["chat"]["id"], msg["message_id"])] = msg
        return self.push_update({"edited_message": msg})

    def operator_sends_photo(self, thread_id: int | None, data: bytes = b"\x89PNG operator photo", **kw: Any) -> dict:
        file_id = self.add_file(data, "op.jpg")
        photo = [{"file_id": file_id, "file_unique_id": file_id, "width": 90, "height": 90, "file_size": len(data)}]
        return self.operator_says(thread_id, None, photo=photo, **kw)

    def operator_press(self, message: Sent, data: str, *, user_id: int = 501, name: str = "Olga Petrova") -> dict:
        chat = self._staff_chat()
        msg: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": chat,
            "text": message.text or "",
        }
        if message.thread_id:
            msg.update(message_thread_id=message.thread_id, is_topic_message=True)
        cq = {
            "id": f"cq{next(self._update_ids)}",
            "from": self._user(user_id, name, None, "en"),
            "chat_instance": "2",
            "message": msg,
            "data": data,
        }
        return self.push_update({"callback_query": cq})

    async def deliver(self, update: dict, *, secret: str | None = None, url: str | None = None) -> int:
        """POST an update to the bot's webhook (as Telegram does); returns the HTTP status."""
        url = url or (self.webhook or {}).get("url")
        assert url, "no webhook set"
        if secret is None:
            secret = (self.webhook or {}).get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with aiohttp.ClientSession() as s, s.post(url, json=update, headers=headers) as r:
            return r.status

    def take_update(self) -> dict:
        """Remove the oldest queued update (to POST it to a webhook instead of serving it to getUpdates)."""
        return self._updates.popleft()
