"""A conversation over the real path, in memory: events -> ``core.intake`` -> Redis outbox -> ``Delivery`` -> a
``MemoryChannel`` that plays both the customers' channel(s) and the staff side.

    conv = await Conversation.start(redis_url, prefix, clock, user=UserRef("telegram", "42"))
    outs = await conv.say("/operator")            # every Outbound the event caused, both sides, once delivered
    case_id = conv.staff_msgs(outs)[0].case_id
    outs = await conv.operator("Проверяю", case_id=case_id)
    outs = await conv.button(case_id, "resolve")

Each call hands its event(s) to the intake (dedup, the customer's lane, the desk, one atomic commit), then
drains the outbox (a barrier: it returns once the outbox is empty) and returns what was delivered since the
previous call. Nothing is mocked: the store, the desk, the outbox and the delivery worker are the real ones.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bots.app import Core, bootstrap
from bots.console import MemoryChannel
from bots.delivery import Delivery, DeliveryOptions
from core.config import Settings
from core.events import (
    ButtonPress,
    CustomerEdit,
    DeliveryReport,
    Event,
    OperatorCommand,
    OperatorEdit,
    OperatorText,
    StaffPlace,
)
from core.faq import FaqMatcher
from core.messages import Attachment, Audience, Inbound, MessageRef, Operator, Outbound, StaffKind, UserRef
from core.store import Store

FAQ = Path(__file__).resolve().parent / "data" / "faq_desk.yaml"
OLGA = Operator("7", "Olga")


class Conversation:
    def __init__(
        self, core: Core, channel: MemoryChannel, delivery: Delivery, user: UserRef, operator: Operator, name: str
    ):
        self.core = core
        self.channel = channel
        self.delivery = delivery
        self.user = user
        self.operator_ref = operator
        self.name = name
        self._seen = 0
        self._ids = itertools.count(1)
        self._tag = uuid.uuid4().hex[:8]  # native ids are unique across "processes" too
        self._closed = False

    @classmethod
    async def start(
        cls,
        redis_url: str | None,
        prefix: str,
        clock: Callable[[], float] = time.time,
        *,
        channels: Iterable[str] = ("console",),
        user: UserRef | None = None,
        operator: Operator = OLGA,
        name: str = "Anna",
        matcher: FaqMatcher | None = None,
        delivery_options: DeliveryOptions = DeliveryOptions(),  # noqa: B008 - frozen
        chart: Callable[..., bytes] | None = None,  # what draws the managers' chart (default: core.stats.chart)
        **settings: Any,
    ) -> Conversation:
        """Bootstrap the core (``REDIS_URL=None``: the embedded store) and a delivery worker around one
        ``MemoryChannel``, registered under every name in ``channels`` and as the staff side."""
        env: dict[str, Any] = {
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": prefix,
            "FAQ_PATH": str(FAQ),
            "DEFAULT_LANGUAGE": "ru",
            "STAFF_LANGUAGE": "en",
            **settings,
        }
        core = await bootstrap(Settings(**env), matcher=matcher, clock=clock, notice=None, chart=chart)
        channel = MemoryChannel(operator=operator.name)
        await channel.run(core.intake)
        names = list(channels)
        delivery = Delivery(core.outbox, dict.fromkeys(names, channel), channel, core.intake, delivery_options)
        return cls(core, channel, delivery, user or UserRef(names[0], "u1"), operator, name)

    @property
    def store(self) -> Store:
        return self.core.store

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.core.close()

    # ------------------------------------------------------------------ building events
    def next_id(self) -> str:
        return f"{self._tag}-{next(self._ids)}"

    def who(self, user: UserRef | str | None) -> UserRef:
        """None: the conversation's customer; "42": that id on the customer's channel; "vk:42"; a UserRef."""
        if user is None:
            return self.user
        if isinstance(user, UserRef):
            return user
        return UserRef.parse(user) if ":" in user else UserRef(self.user.channel, user)

    def inbound(
        self,
        text: str = "",
        *,
        user: UserRef | str | None = None,
        payload: str | None = None,
        lang: str | None = None,
        attachments: tuple[Attachment, ...] = (),
        **fields: Any,
    ) -> Inbound:
        fields.setdefault("name", self.name)
        fields.setdefault("message_id", self.next_id())
        return Inbound(
            sender=self.who(user), text=text, payload=payload, language=lang, attachments=attachments, **fields
        )

    def operator_text(
        self,
        text: str,
        case_id: int | None = None,
        *,
        operator: Operator | None = None,
        attachments: tuple[Attachment, ...] = (),
        origin: MessageRef | None = None,
        is_caption: bool = False,
        **place: Any,
    ) -> OperatorText:
        return OperatorText(
            operator or self.operator_ref,
            text,
            StaffPlace(case_id=case_id, **place),
            message_id=self.next_id(),
            attachments=attachments,
            origin=origin,
            is_caption=is_caption,
        )

    # ------------------------------------------------------------------ acting
    async def send(self, *events: Event, together: bool = False) -> list[Outbound]:
        """Hand ``events`` to the intake (one after the other, or all at once), then deliver what they caused."""
        if together:
            await asyncio.gather(*(self.core.intake(e) for e in events))
        else:
            for event in events:
                await self.core.intake(event)
        return await self.deliver()

    async def deliver(self) -> list[Outbound]:
        """Drain the outbox (a barrier); return what was delivered since the last call, both sides."""
        assert await self.delivery.drain(), "the outbox did not empty"
        new = self.channel.sent[self._seen :]
        self._seen = len(self.channel.sent)
        return new

    async def say(self, text: str = "", **kw: Any) -> list[Outbound]:
        return await self.send(self.inbound(text, **kw))

    async def press(
        self, payload: str, *, user: UserRef | str | None = None, lang: str | None = None, name: str | None = None
    ) -> list[Outbound]:
        event = ButtonPress(self.who(user), payload, self.next_id(), language=lang, name=name or self.name)
        return await self.send(event)

    async def edit(self, text: str, *, user: UserRef | str | None = None) -> list[Outbound]:
        return await self.send(CustomerEdit(self.who(user), self.next_id(), text))

    async def operator(self, text: str, case_id: int | None = None, **kw: Any) -> list[Outbound]:
        """An operator typed ``text`` in the staff group (a reply, a ``!note``, a ``/command``) for ``case_id``."""
        return await self.send(self.operator_text(text, case_id, **kw))

    async def operator_edit(self, text: str, case_id: int | None, *, operator: Operator | None = None):
        event = OperatorEdit(operator or self.operator_ref, text, StaffPlace(case_id=case_id), self.next_id())
        return await self.send(event)

    async def button(self, case_id: int, command: str, *, operator: Operator | None = None) -> list[Outbound]:
        """An operator pressed a case card's button."""
        event = OperatorCommand(operator or self.operator_ref, case_id, command, StaffPlace(), self.next_id())
        return await self.send(event)

    async def report(self, out: Outbound, reason: str) -> list[Outbound]:
        """``out`` could not be delivered (what the outbox hands the intake when it gives up)."""
        return await self.send(DeliveryReport(out, reason, message_id=self.next_id()))

    # ------------------------------------------------------------------ reading
    @staticmethod
    def customer_msgs(outs: list[Outbound], user: UserRef | None = None) -> list[Outbound]:
        return [o for o in outs if o.audience is Audience.CUSTOMER and (user is None or o.to == user)]

    @staticmethod
    def staff_msgs(outs: list[Outbound], kind: StaffKind | None = None) -> list[Outbound]:
        return [o for o in outs if o.audience is Audience.STAFF and (kind is None or o.kind == kind)]

    @classmethod
    def customer_texts(cls, outs: list[Outbound]) -> list[str]:
        return [o.text for o in cls.customer_msgs(outs)]

    async def events(self, type_: str | None = None) -> list[dict[str, str]]:
        """The managers' event stream (``type_``: only those)."""
        return [e for e in await self.store.events() if type_ is None or e["type"] == type_]


async def open_case(conv: Conversation, text: str = "/operator", **kw: Any) -> int:
    """A customer asks for a person (``text``): the new case's id."""
    return conv.staff_msgs(await conv.say(text, **kw), StaffKind.CASE_OPENED)[0].case_id
