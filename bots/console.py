"""The in-process channel: the terminal demo (`supportbot chat`) and the fast test channel.

``MemoryChannel`` is a channel like any other: events go to the sink it was given (the real intake: dedup,
lane, desk, outbox), and what the outbox delivers lands in ``sent`` (both the customer's and the staff
side). ``ConsoleChannel`` prints it: you type as the customer; lines starting with ">" are typed as the operator,
and go through the same operator path as the Telegram staff group ("> text" replies, "> /take", "> !note"...).
The bot's buttons are numbered lines: type the number to press one.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import textwrap
import uuid
from typing import TextIO

from bots.ports import Capabilities, DeliveryError, EventSink, Limit, Media, SendContext, StaffDirectory
from core.events import OperatorText, StaffPlace
from core.messages import Attachment, Audience, Inbound, Operator, Outbound, UserRef

BANNER = """supportbot console demo. You are the customer: type a question (try "how do I reset my password").
Buttons show as numbered lines: type the number to press one.
Lines starting with ">" are typed as the operator of your open case:
  > text        reply to the customer          > !text     private note (not sent)
  > /take  > /needinfo  > /resolve  > /escalate  > /reopen  > /case N
Customer commands: /start /help /operator /status /callback /cancel.  Quit: /quit or Ctrl-D.
"""


class MemoryChannel:
    """A channel whose platform is this process: push events in, read what was delivered."""

    name = "console"
    capabilities = Capabilities(buttons=0)

    def __init__(self, user_id: str = "local", operator: str = "Demo", directory: StaffDirectory | None = None):
        self.user = UserRef(self.name, user_id)
        self.operator = Operator(id="console-operator", name=operator)
        self.sent: list[Outbound] = []
        self.sink: EventSink | None = None
        self.last_case: int | None = None
        # with a directory, the case last shown to the customer is remembered across restarts (``case_now``)
        self.directory = directory

    # ---------------------------------------------------------------- Channel
    async def run(self, sink: EventSink) -> None:
        self.sink = sink

    def routes(self, sink: EventSink) -> list:
        self.sink = sink
        return []

    async def send(self, out: Outbound, ctx: SendContext) -> str:
        if self.directory is not None and out.case_id and out.to == self.user:
            ctx.link("console", self.user.user_id, out.case_id)
        self.show(out)
        return str(len(self.sent))

    async def send_staff(self, out: Outbound, ctx: SendContext) -> str:
        self.show(out)
        return str(len(self.sent))

    def limits(self, out: Outbound) -> list[Limit]:
        return []

    def staff_limits(self, out: Outbound) -> list[Limit]:
        return []

    async def download(self, attachment: Attachment) -> Media:
        raise DeliveryError("the console cannot fetch files", permanent=True)

    async def close(self) -> None:
        return None

    def show(self, out: Outbound) -> None:
        if out.case_id:
            self.last_case = out.case_id
        self.sent.append(out)

    # ---------------------------------------------------------------- the two people at the keyboard
    async def case_now(self) -> int | None:
        """The case the operator's lines are for: the last one shown here, or in an earlier run."""
        if self.last_case is None and self.directory is not None:
            self.last_case = await self.directory.case_of("console", self.user.user_id)
        return self.last_case

    async def customer_says(self, text: str, user: UserRef | None = None) -> None:
        assert self.sink is not None, "run() or routes() first: the channel has no sink"
        event = Inbound(sender=user or self.user, text=text, message_id=uuid.uuid4().hex, name="Console user")
        await self.sink(event)

    async def operator_says(self, text: str, case_id: int | None = None) -> None:
        assert self.sink is not None, "run() or routes() first: the channel has no sink"
        place = StaffPlace(case_id=case_id if case_id is not None else self.last_case, reply={"console": True})
        await self.sink(OperatorText(self.operator, text, place, message_id=uuid.uuid4().hex))


class ConsoleChannel(MemoryChannel):
    """The terminal: prints what is delivered, reads what you type."""

    def __init__(
        self,
        out: TextIO = sys.stdout,
        user_id: str = "local",
        operator: str = "Demo",
        width: int = 100,
        directory: StaffDirectory | None = None,
    ):
        super().__init__(user_id, operator, directory)
        self.out = out
        self.width = width

    def show(self, out: Outbound) -> None:
        super().show(out)
        if out.audience is Audience.STAFF:
            prefix = f"[staff #{out.case_id}] " if out.case_id else "[staff] "
            files = "".join(f" [{a.kind}]" for a in out.attachments)
            self._print(prefix, out.text + files)
            return
        if out.meta.get("operator"):
            self._print(f"operator {out.meta['operator']}> ", out.text)
        else:
            self._print("bot> ", out.text)
        for i, button in enumerate(out.buttons, 1):
            print(f"     {i}. {button.label}", file=self.out)

    def _print(self, prefix: str, text: str) -> None:
        lines: list[str] = []
        for para in text.split("\n"):
            lines += textwrap.wrap(para, max(20, self.width - len(prefix))) or [""]
        print(prefix + ("\n" + " " * len(prefix)).join(lines), file=self.out)

    async def chat(self, lines: TextIO, drain, interactive: bool | None = None) -> None:
        """Read lines until EOF or /quit; after each, wait until the outbox delivered what it caused."""
        interactive = lines.isatty() if interactive is None else interactive
        if interactive:
            with contextlib.suppress(ImportError):  # line editing and history (not on every platform)
                import readline  # noqa: F401 - input() uses it once imported
        print(BANNER, file=self.out)
        await self.customer_says("/start")
        await drain()
        while True:
            if interactive:
                try:
                    line = await asyncio.to_thread(input, "you> ") + "\n"
                except EOFError:
                    line = ""
            else:
                line = await asyncio.to_thread(lines.readline)
            if not line:
                break
            line = line.rstrip("\n")
            if not interactive:
                print(f"you> {line}", file=self.out)
            if line.strip() in ("/quit", "/exit"):
                break
            if not line.strip():
                continue
            if line.lstrip().startswith(">"):
                if await self.case_now() is None:
                    print("[staff] No case yet: ask for an operator first (/operator).", file=self.out)
                    continue
                await self.operator_says(line.lstrip()[1:].strip())
            else:
                await self.customer_says(line)
            await drain()
        print("bye", file=self.out)
