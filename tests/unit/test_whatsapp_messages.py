"""WhatsApp adapter pieces without the network: message shapes for buttons, error mapping, signatures."""

from __future__ import annotations

from bots.whatsapp import GraphError, graph_error, inbound, signature_ok, text_messages
from core.messages import Button, customer, to_customer


def out(buttons, text="Q", lang="en"):
    return to_customer(customer("whatsapp", "7"), text, buttons=tuple(buttons), lang=lang)


def test_up_to_three_short_buttons_are_reply_buttons():
    [msg] = text_messages(out([Button("Yes", "y"), Button("No", "n"), Button("12345678901234567890", "m")]))
    assert msg["interactive"]["type"] == "button"
    assert [b["reply"]["id"] for b in msg["interactive"]["action"]["buttons"]] == ["y", "n", "m"]


def test_four_buttons_or_a_long_title_become_a_list():
    [msg] = text_messages(out([Button(str(i), f"p{i}") for i in range(4)]))
    assert msg["interactive"]["type"] == "list"
    [msg] = text_messages(out([Button("A" * 21, "a"), Button("B" * 30, "b")], lang="ru"))
    rows = msg["interactive"]["action"]["sections"][0]["rows"]
    assert msg["interactive"]["type"] == "list"
    assert rows[0] == {"id": "a", "title": "A" * 21}  # fits a row title (24)
    assert rows[1] == {"id": "b", "title": "B" * 23 + "…", "description": "B" * 30}
    assert msg["interactive"]["action"]["button"] == "Выбрать"


def test_more_than_ten_buttons_or_a_long_body_become_numbered_text():
    [msg] = text_messages(out([Button(str(i), f"p{i}") for i in range(11)]))
    assert msg["type"] == "text" and msg["text"]["body"].endswith("11. 10")
    [msg] = text_messages(out([Button("Yes", "y")], text="x" * 1100))
    assert msg["type"] == "text" and msg["text"]["body"].endswith("1. Yes")


def test_long_text_is_split():
    msgs = text_messages(out([], text="y" * 5000))
    assert [len(m["text"]["body"]) for m in msgs] == [4096, 904]


def test_error_mapping():
    assert graph_error(GraphError(400, {"error": {"code": 131026, "message": "x"}})).permanent
    e = graph_error(GraphError(400, {"error": {"code": 131056, "message": "pair rate"}}))
    assert not e.permanent and e.retry_after
    assert not graph_error(GraphError(500, {})).permanent
    assert not graph_error(GraphError(503, {"error": {"code": 131000, "message": "x"}})).permanent
    assert graph_error(GraphError(401, {"error": {"code": 190, "message": "token"}})).permanent


def test_signature():
    import hashlib
    import hmac

    body = b"{}"
    sig = "sha256=" + hmac.new(b"s", body, hashlib.sha256).hexdigest()
    assert signature_ok(body, sig, "s") and signature_ok(body, sig.upper().replace("SHA256=", "sha256="), "s")
    assert not signature_ok(body, sig, "") and not signature_ok(body, "md5=" + sig[7:], "s")


def test_an_unsupported_message_is_marked_for_the_desk():
    message = {"from": "7", "id": "wamid.X", "timestamp": "1", "type": "unsupported", "errors": [{"code": 131051}]}
    event = inbound(message, {"7": "Maria"})
    assert event is not None and event.unsupported and event.text == "[unsupported]"
    assert event.name == "Maria" and event.handle == "+7" and event.message_id == "wamid.X"
    text = inbound({"from": "7", "id": "wamid.Y", "type": "text", "text": {"body": "hi"}}, {})
    assert text is not None and not text.unsupported and text.text == "hi"
    assert inbound({"from": "7", "id": "wamid.Z", "type": "reaction"}, {}) is None
