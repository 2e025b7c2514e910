"""VK adapter pieces without the network: error mapping, random_id, URL rebasing, attachments, payloads."""

from __future__ import annotations

import requests
from vk_api.exceptions import ApiError, ApiHttpError

from bots.kit import split_text
from bots.vk import RebasedSession, _attachments, _our_payload, random_id, vk_error


def api_error(code: int, msg: str = "msg") -> ApiError:
    return ApiError(None, "messages.send", {}, False, {"error_code": code, "error_msg": msg})


def test_permission_and_blacklist_errors_are_permanent_and_worded_for_operators():
    for code, words in [(901, "has not allowed messages"), (902, "privacy settings"), (900, "blacklisted")]:
        e = vk_error(api_error(code))
        assert e.permanent and e.retry_after is None
        assert words in e.reason and f"VK error {code}" in e.reason and e.reason.startswith("not delivered")


def test_rate_errors_wait_and_retry():
    for code in (6, 9, 29):
        e = vk_error(api_error(code))
        assert not e.permanent and e.retry_after and e.retry_after > 0


def test_http_5xx_is_retryable_and_4xx_is_not():
    response = requests.Response()
    response.status_code = 502
    assert not vk_error(ApiHttpError(None, "messages.send", {}, False, response)).permanent
    response.status_code = 404
    assert vk_error(ApiHttpError(None, "messages.send", {}, False, response)).permanent
    assert not vk_error(requests.ConnectionError("refused")).permanent


def test_random_id_is_a_stable_positive_int32():
    ids = {random_id(f"sb:{i}") for i in range(1000)}
    assert len(ids) == 1000 and all(0 < i < 2**31 for i in ids)
    assert random_id("sb:1") == random_id("sb:1")


def test_random_id_salt_gives_an_install_its_own_ids():
    assert random_id("sb:1", 0, "") == random_id("sb:1")  # no salt: as before
    assert random_id("sb:1", 0, "a1") == random_id("sb:1", 0, "a1")
    assert random_id("sb:1", 0, "a1") != random_id("sb:1", 0, "b2") != random_id("sb:1")


def test_rebased_session_points_vk_api_at_the_configured_url():
    s = RebasedSession("http://127.0.0.1:9/")
    sent = []
    s.send = lambda request, **kw: sent.append(request.url)  # type: ignore[method-assign]
    s.post("https://api.vk.ru/method/users.get", {"v": "5.199"})
    s.post("https://upload.example/x", {})
    assert sent == ["http://127.0.0.1:9/method/users.get", "https://upload.example/x"]


def test_attachments_pick_the_largest_photo_and_note_the_rest():
    items = [
        {
            "type": "photo",
            "photo": {
                "id": 1,
                "owner_id": 2,
                "sizes": [{"width": 10, "height": 10, "url": "small"}, {"width": 800, "height": 600, "url": "big"}],
            },
        },
        {"type": "doc", "doc": {"title": "act", "ext": "pdf", "url": "doc-url", "size": 3}},
        {"type": "sticker", "sticker": {}},
        {"type": "video", "video": {}},
    ]
    atts, notes = _attachments(items)
    assert [(a.kind, a.ref, a.filename) for a in atts] == [
        ("photo", "big", "photo2_1.jpg"),
        ("document", "doc-url", "act.pdf"),
    ]
    assert notes == ["[sticker]", "[video]"]


def test_video_wall_and_sticker_notes_carry_a_link():
    items = [
        {"type": "video", "video": {"id": 456239017, "owner_id": -4242, "title": "how it breaks"}},
        {"type": "wall", "wall": {"id": 12, "owner_id": -4242, "from_id": -4242, "text": "news"}},
        {
            "type": "sticker",
            "sticker": {
                "sticker_id": 9,
                "images": [
                    {"url": "https://vk.com/sticker/1-9-64", "width": 64, "height": 64},
                    {"url": "https://vk.com/sticker/1-9-512", "width": 512, "height": 512},
                ],
            },
        },
        {"type": "link", "link": {"url": "https://example.com/order/1", "title": "Order"}},
        {"type": "gift", "gift": {"id": 3}},
    ]
    atts, notes = _attachments(items)
    assert atts == ()
    assert notes == [
        "[video] https://vk.com/video-4242_456239017",
        "[wall] https://vk.com/wall-4242_12",
        "[sticker] https://vk.com/sticker/1-9-512",
        "[link] https://example.com/order/1",
        "[gift]",
    ]


def test_payloads():
    assert _our_payload('{"p": "faq:x"}') == "faq:x"
    assert _our_payload({"p": "rate:1:5"}) == "rate:1:5"
    assert _our_payload('{"command": "start"}') is None


def test_split_long_text():
    parts = split_text("a" * 5000, 4096)
    assert [len(p) for p in parts] == [4096, 904]
