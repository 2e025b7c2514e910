"""The local terminal channel: the embedded demo (`supportbot chat`).

You type as the customer. Lines starting with ">" are typed as the operator of your case, so one person
can play both sides: "> text" replies, "> /take", "> /needinfo", "> /resolve", "> /escalate", "> /case",
"> !note" (private), and the bot's buttons are numbered lines: type the number to press one.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import TextIO

from core.desk import STAFF_COMMANDS, SupportDesk
from core.messages import Audience, Inbound, Operator, Outbound, UserRef

BANNER = """supportbot console demo. You are the customer: type a question (try "how do I reset my password").
Buttons show as numbered lines: type the number to press one.
Lines starting with ">" are typed as the operator of your open case:
  > text        reply to the customer          > !text     private note (not sent)
  > /take  > /needinfo  > /resolve  > /escalate  > /reopen  > /case N
Customer commands: /start /help /operator /status /cancel.  Quit: /quit or Ctrl-D.
"""


class ConsoleChannel:
    name = "console"

    def __init__(self, desk: SupportDesk, out: TextIO = sys.stdout, user_id: str = "local", operator: str = "Demo"):
        self.desk = desk
        self.out = out
        self.user = UserRef("console", user_id)
        self.operator = Operator(id="console-operator", name=operator)
        self.last_case: int | None = None

    def show(self, message: Outbound) -> None:
        if message.case_id:
            self.last_case = message.case_id
        if message.audience is Audience.STAFF:
            prefix = f"[staff #{message.case_id}] " if message.case_id else "[staff] "
            body = message.text.replace("\n", "\n" + " " * len(prefix))
            files = "".join(f" [{a.kind}]" for a in message.attachments)
            print(f"{prefix}{body}{files}", file=self.out)
            return
        print("bot> " + message.text.replace("\n", "\n     "), file=self.out)
        for i, button in enumerate(message.buttons, 1):
            print(f"     {i}. {button.label}", file=self.out)

    async def customer_says(self, text: str) -> list[Outbound]:
        event = Inbound(sender=self.user, text=text, message_id=uuid.uuid4().hex, name="Console user")
        return await self.desk.handle(event)

    async def operator_says(self, text: str) -> list[Outbound]:
        text = text.strip()
        case_id = await self._target_case(text)
        if case_id is None:
            return [Outbound(Audience.STAFF, "No case yet: ask for an operator first (/operator).")]
        if text.startswith("!"):
            await self.desk.operator_note(case_id, self.operator, text[1:].strip())
            return [Outbound(Audience.STAFF, "(note saved, not sent to the customer)", case_id=case_id)]
        if text.startswith("/"):
            command = text[1:].split()[0].lower() if len(text) > 1 else ""
            if command not in STAFF_COMMANDS:
                known = " ".join("/" + c for c in STAFF_COMMANDS)
                return [Outbound(Audience.STAFF, f"Unknown staff command. Known: {known}", case_id=case_id)]
            return await self.desk.operator_command(case_id, command, self.operator)
        return await self.desk.operator_message(case_id, self.operator, text)

    async def _target_case(self, text: str) -> int | None:
        parts = text.split()
        if len(parts) >= 2 and parts[0] == "/case" and parts[1].lstrip("#").isdigit():
            return int(parts[1].lstrip("#"))
        case = await self.desk.store.open_case_of(self.user)
        if case is not None:
            return case.id
        if self.last_case is not None:
            return self.last_case
        cases = await self.desk.store.cases_of(self.user, last=1)
        return cases[-1].id if cases else None

    async def run(self, lines: TextIO = sys.stdin, interactive: bool | None = None) -> None:
        interactive = lines.isatty() if interactive is None else interactive
        print(BANNER, file=self.out)
        for message in await self.customer_says("/start"):
            self.show(message)
        while True:
            if interactive:
                print("you> ", end="", file=self.out, flush=True)
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
                outs = await self.operator_says(line.lstrip()[1:])
            else:
                outs = await self.customer_says(line)
            for message in outs:
                self.show(message)
        print("bye", file=self.out)
