"""The VK API methods of the stand-in: ``VkMethodsMixin`` gives ``FakeVk`` a handler ``_m_<group>_<method>`` for each
method the bot calls (groups.getLongPollServer, users.get, messages.send with its random_id deduplication and
attachments, messages.sendMessageEventAnswer, the photo and doc upload servers and their save methods); each takes
the call's parameters and returns the ``response`` value. The dispatch, the failures, uploads, downloads and long
poll are in ``tests.fakes.vk_api``; the handlers use the state ``FakeVk.__init__`` sets up.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.vk_records import SentMessage


class VkMethodsMixin:
    """The VK API methods ``FakeVk`` answers, as VK does."""

    def _m_groups_getLongPollServer(self, params):
        assert int(params["group_id"]) == self.group_id
        self.lp_keys_issued += 1
        self.lp_key = f"key-{self.lp_keys_issued}"
        return {"server": f"{self.url}/lp", "key": self.lp_key, "ts": str(self._ts_now())}

    def _m_users_get(self, params):
        out = []
        for uid in str(params.get("user_ids", "")).split(","):
            if uid:
                first, last = self.users.get(int(uid), ("Ivan", "Petrov"))
                out.append(
                    {
                        "id": int(uid),
                        "first_name": first,
                        "last_name": last,
                        "can_access_closed": True,
                        "is_closed": False,
                    }
                )
        return out

    def _m_messages_send(self, params):
        peer_id = int(params["peer_id"])
        rid = int(params["random_id"])
        if rid and (peer_id, rid) in self._by_random:
            return self._by_random[(peer_id, rid)]  # VK: the same random_id is not delivered again
        attachments = []
        for ident in filter(None, (params.get("attachment") or "").split(",")):
            attachments.append(self._resolve_attachment(ident))
        keyboard = json.loads(params["keyboard"]) if params.get("keyboard") else None
        mid = next(self._ids)
        self.sent.append(SentMessage(mid, peer_id, params.get("message", ""), rid, keyboard, attachments))
        if rid:
            self._by_random[(peer_id, rid)] = mid
        return mid

    def _m_messages_sendMessageEventAnswer(self, params):
        self.event_answers.append(params)
        return 1

    def _m_photos_getMessagesUploadServer(self, params):
        return {
            "upload_url": f"{self.url}/upload/photo?peer={params.get('peer_id', '')}",
            "album_id": -3,
            "group_id": self.group_id,
        }

    def _m_docs_getMessagesUploadServer(self, params):
        return {"upload_url": f"{self.url}/upload/doc?peer={params.get('peer_id', '')}"}

    def _m_photos_saveMessagesPhoto(self, params):
        stored = json.loads(params["photo"])
        pid = next(self._ids)
        self._photos[pid] = stored["file"]
        return [{"id": pid, "owner_id": -self.group_id, "access_key": "ak" + str(pid), "sizes": []}]

    def _m_docs_save(self, params):
        file_id = params["file"]
        did = next(self._ids)
        self._docs[did] = (file_id, params.get("title") or "")
        return {
            "type": "doc",
            "doc": {
                "id": did,
                "owner_id": -self.group_id,
                "title": params.get("title") or "",
                "url": f"{self.url}/files/{file_id}",
            },
        }

    def _resolve_attachment(self, ident: str) -> dict[str, Any]:
        kind = "photo" if ident.startswith("photo") else "doc"
        owner_and_id = ident[len(kind) :].split("_")
        item_id = int(owner_and_id[1])
        if kind == "photo":
            file_id = self._photos[item_id]
            title = self.files[file_id][1]
        else:
            file_id, title = self._docs[item_id]
        data, filename, _ = self.files[file_id]
        return {"type": kind, "id": ident, "data": data, "filename": title or filename}
