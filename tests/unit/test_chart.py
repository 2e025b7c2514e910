import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from core.stats.chart import CHART_SIZE, DayPoint, render_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def days(n: int, *, zeros: bool = False, no_first_response: bool = False) -> list[DayPoint]:
    start = date(2024, 12, 20)
    out = []
    for i in range(n):
        conv = 0 if zeros else 20 + (i * 7) % 13
        deflected = 0 if zeros else conv // 2
        handoffs = 0 if zeros else conv // 3
        blank = zeros or no_first_response or i % 5 == 3  # every fifth day: a gap in the bottom panel
        first = None if blank else 60.0 + (i * 37) % 600
        out.append(DayPoint((start + timedelta(days=i)).isoformat(), conv, deflected, handoffs, first))
    return out


def assert_png(data: bytes) -> None:
    assert data.startswith(PNG_SIGNATURE)
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == CHART_SIZE


@pytest.mark.parametrize("n", [1, 7, 30, 400])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_sizes_for_periods(n, lang):
    assert_png(render_chart(days(n), title=f"Support, {n} days", lang=lang))


@pytest.mark.parametrize("n", [1, 30, 400])
def test_all_zeros(n):
    assert_png(render_chart(days(n, zeros=True), title="Zeros"))


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_no_first_responses(lang):
    assert_png(render_chart(days(7, no_first_response=True), title="Нет ответов", lang=lang))


def test_odd_inputs():
    assert_png(render_chart([], title="Nothing"))
    assert_png(render_chart(days(3), title="Costs $5 and $6, 100% of_it", lang="de"))  # no mathtext, en fallback
    gappy = days(30)[::4]  # days missing in between
    assert_png(render_chart(list(reversed(gappy)), title="Gaps"))


def test_same_input_same_bytes():
    points = days(30)
    assert render_chart(points, title="Same") == render_chart(points, title="Same")


def test_data_differs_from_zeros():
    assert render_chart(days(7), title="T") != render_chart(days(7, zeros=True), title="T")


def test_concurrent_renders_in_threads():
    jobs = [(days(7), "en"), (days(30), "ru"), (days(400), "en"), (days(1, no_first_response=True), "ru")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: render_chart(job[0], title="Threads", lang=job[1]), jobs * 2))
    for data in results:
        assert_png(data)
    assert results[:4] == results[4:]


def test_import_does_not_load_matplotlib():
    code = "import sys, core.stats.chart; assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
