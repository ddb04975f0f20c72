"""The drawing page in a real browser: Playwright drives Debian's Chromium, draws a 1 and a 7 with mouse moves
on the canvas, and the page must show the right class (from a network trained on real MNIST)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from servehelpers import STROKES, serving

pytest.importorskip("fastapi", reason='barenet serve needs the serve extra: pip install "barenet[serve]"')
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs pip install playwright")

CHROMIUM = next((Path(found) for found in (shutil.which(name) for name in ("chromium", "chromium-browser")) if found),
                None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium executable on PATH: apt-get install chromium "
                                                          "(Playwright cannot download browsers here)")


@pytest.fixture(scope="module")
def page(mnist_model_file):
    from barenet.apps.serve.app import create_app

    with serving(create_app(mnist_model_file)) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])  # CI runs as root
        page = browser.new_page(viewport={"width": 1280, "height": 820})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        page.wait_for_function("document.querySelectorAll('#bars li').length === 10")
        yield page
        browser.close()
        assert errors == [], errors


def draw(page, strokes) -> str:
    """Trace `strokes` (28x28 coordinates) on the canvas with the mouse; return the drawing's version number."""
    box = page.locator("#pad").bounding_box()

    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + x / 28 * box["width"], box["y"] + y / 28 * box["height"]

    for stroke in strokes:
        page.mouse.move(*at(*stroke[0]))
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*at(*point), steps=8)
        page.mouse.up()
    return page.locator("#pad").get_attribute("data-version")


@pytest.mark.parametrize("digit", ["1", "7"])
def test_a_drawn_digit_is_read_right(page, digit, tmp_path):
    page.click("#clear")
    version = draw(page, STROKES[digit])
    page.wait_for_selector(f'#result[data-version="{version}"]', timeout=60_000)  # the answer to the last drawing
    assert page.locator("#digit").text_content() == digit
    winner = page.locator("#bars li.winner .label")
    assert winner.count() == 1 and winner.text_content() == digit
    seen = page.evaluate("Array.from(document.getElementById('seen').getContext('2d')"
                         ".getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 === 0 && v > 0).length")
    assert 20 < seen < 400  # the 28x28 the network saw is drawn: some ink, not all of it
    page.screenshot(path=tmp_path / f"drawn-{digit}.png")
    assert (tmp_path / f"drawn-{digit}.png").stat().st_size > 10_000


def test_the_page_shows_the_model_and_clears(page):
    assert "mnist-mlp (2 epochs)" in page.locator("#model-pill").text_content()
    assert page.locator("#m-sizes .size").all_text_contents() == ["784", "128", "64", "10"]
    assert page.locator("#m-accuracy").text_content().endswith("%")
    page.click("#clear")
    assert page.locator("#digit").text_content() == "·" and page.locator("#bars li.winner").count() == 0
