"""The desk's FAQ answers: the four bands, the buttons offered, and what a typed number or label presses."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from core.cases import HandoffReason
from core.faq import Band, FaqEntry, fix_layout
from core.messages import Button, Outbound, UserRef, to_customer
from core.store import Unit
from core.texts import detect_language, t

if TYPE_CHECKING:
    from core.desk import SupportDesk

LABEL_MAX = 60


class AnswerSide:
    def _answer(self: SupportDesk, user: UserRef, text: str, state: dict[str, str], lang: str, u: Unit):
        match = self.matcher.match(text)
        tried = json.loads(state.get("tried") or "[]")
        best = match.best
        if match.band in (Band.ANSWER, Band.ANSWER_ALTERNATIVES) and best is not None:
            entry = best.entry
            others = match.alternatives if match.band is Band.ANSWER_ALTERNATIVES else ()
            u.record(
                "faq_answered",
                customer=user.key,
                entry=entry.id,
                score=f"{best.score:.3f}",
                band=str(match.band),
                alternatives=",".join(c.entry.id for c in others) or None,
            )
            tried.append([entry.id, round(best.score, 3)])
            u.update_user(user, tried=json.dumps(tried[-10:]), last_q=text[:200])  # for "didn't help" (figures)
            self.faq_settled(user, state, u)  # core.desk.figures
            u.push_recent(user, "bot", f"FAQ answer: {entry.id}")
            answer = self.fill_hours(entry.answer(lang), lang)  # {working_hours}: core.desk.sla
            if not others:
                return [to_customer(user, answer, buttons=answer_buttons(entry, lang), lang=lang)]
            buttons = tuple(Button(entry_label(c.entry, lang), f"faq:{c.entry.id}") for c in others)
            buttons += (Button(t("btn_operator", lang), "op:not_helped"),)
            text = answer + "\n\n" + t("not_it", lang)
            return [to_customer(user, text, buttons=buttons, lang=lang)]
        if match.band is Band.SUGGEST:
            ids = [c.entry.id for c in match.candidates]
            u.record(
                "faq_suggested",
                customer=user.key,
                entries=",".join(ids),
                entry=ids[0],
                score=f"{match.candidates[0].score:.3f}",
            )
            tried += [[c.entry.id, round(c.score, 3)] for c in match.candidates]
            u.update_user(user, tried=json.dumps(tried[-10:]), last_q=text[:200])  # for "didn't help" (figures)
            u.push_recent(user, "bot", "Suggested: " + ", ".join(ids))
            buttons = tuple(Button(entry_label(c.entry, lang), f"faq:{c.entry.id}") for c in match.candidates)
            buttons += (Button(t("btn_none_of_these", lang), "op:no_match"),)
            return [to_customer(user, t("suggest", lang), buttons=buttons, lang=lang)]
        u.record(
            "faq_no_match",
            customer=user.key,
            entry=best.entry.id if best else None,
            score=f"{best.score:.3f}" if best else "0",
            text=text[:200],
        )
        self.faq_unsettled(user, state, u)  # the FAQ's last step was no answer: not settled by it (figures)
        return [self._offer_operator(user, lang, "no_match", HandoffReason.NO_MATCH)]

    @staticmethod
    def _offer_operator(user: UserRef, lang: str, text_key: str, reason: str) -> Outbound:
        buttons = (Button(t("btn_operator", lang), f"op:{reason}"), Button(t("btn_rephrase", lang), "rephrase"))
        return to_customer(user, t(text_key, lang), buttons=buttons, lang=lang)

    def remember_buttons(self: SupportDesk, u: Unit, outs: list[Outbound]) -> None:
        """Channels without buttons show numbered lines; a reply "2" (or a button's label typed out) then means
        that button."""
        for out in outs:
            if out.to is not None and out.buttons:
                u.update_user(
                    out.to,
                    buttons=json.dumps([b.payload for b in out.buttons]),
                    labels=json.dumps([label_key(b.label) for b in out.buttons], ensure_ascii=False),
                    buttons_at=repr(self.clock()),
                )


def answer_buttons(entry: FaqEntry, lang: str) -> tuple[Button, ...]:
    return (
        Button(t("btn_not_helped", lang), f"nohelp:{entry.id}"),
        Button(t("btn_operator", lang), "op:requested"),
    )


def label_key(label: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", label.lower().replace("ё", "е")).split())


def typed_label(text: str, state: dict[str, str]) -> str | None:
    """A button's label typed out ("не помогло", "didn't help") presses that button."""
    labels = state.get("labels")
    if not labels or len(text) > 80:
        return None
    key = label_key(text)
    if not key:
        return None
    for i, label in enumerate(json.loads(labels)):
        if label == key:
            offered = json.loads(state.get("buttons") or "[]")
            return offered[i] if i < len(offered) else None
    return None


def entry_label(entry: FaqEntry, lang: str) -> str:
    """The entry's first phrasing in the customer's language (its title otherwise), short enough for a button."""
    label = next((q for q in entry.questions if detect_language(q, None, "") == lang), entry.title)
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 1] + "…"


_GREETINGS = {
    "привет", "приветствую", "здравствуйте", "здравствуй", "добрый день", "добрый вечер", "доброе утро",
    "доброй ночи", "салют", "хай", "hello", "hi", "hey", "good morning", "good afternoon", "good evening",
}  # fmt: skip
_THANKS = {
    "спасибо", "спасибо большое", "большое спасибо", "благодарю", "спс", "ок спасибо", "понятно спасибо",
    "thanks", "thank you", "thanks a lot", "thx", "ok thanks", "thank you very much",
}  # fmt: skip


def small_talk(text: str) -> str | None:
    """A message that is only a greeting or a thank-you (typed in either layout) gets a reply, not an FAQ lookup."""
    for variant in (text, fix_layout(text)):
        words = " ".join(re.sub(r"[^\w\s]", " ", variant.lower().replace("ё", "е")).split())
        if words in _GREETINGS:
            return "small_talk_hello"
        if words in _THANKS:
            return "small_talk_thanks"
    return None
