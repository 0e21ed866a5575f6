"""The explainer page in a real browser: headless Chromium (Debian's `chromium`), driven
through the DevTools protocol by tests/devtools.py (the standard library only), showing
gpt2-tiny. One browser for the module; each test opens the page afresh and ends with no
JavaScript exception and no console error.

Without Chromium these tests skip, saying so, except under CI (TINYGPT_REQUIRE_DATA), where
they fail. TINYGPT_WRITE_SCREENSHOT=1 rewrites docs/explain.png, the README's picture.
"""
import json
import os
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from devtools import Chromium, find_chromium
from gpt.inspection.explain import Explainer, ExplainServer
from tinytorch.serialization import atomic_write

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "explain.png"
WIDTH = 1280
READY = "document.body.dataset.state === 'ready'"


@pytest.fixture(scope="module")
def explainer(shared_data):
    return Explainer.from_directory(shared_data / "gpt2-tiny")


@pytest.fixture(scope="module")
def site(explainer):
    """(browser, url): the page served in this process, and one Chromium for the module."""
    executable = find_chromium()
    if executable is None:
        reason = ("Chromium is not installed (on Debian: apt-get install chromium; or set "
                  "TINYGPT_CHROMIUM to a Chromium or Chrome executable)")
        if os.environ.get("TINYGPT_REQUIRE_DATA"):
            pytest.fail(f"{reason}; CI needs it")
        pytest.skip(reason)
    server = ExplainServer(explainer, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Chromium.start(executable) as browser:
            browser.set_window(WIDTH, 900)
            yield browser, server.url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def page(site):
    """The page opened afresh and analysed; afterwards, no JavaScript error may have shown."""
    browser, url = site
    seen = len(browser.events)
    browser.navigate(url)
    browser.wait_for(READY)
    yield browser
    assert browser.problems(since=seen) == []


def shown(browser):
    """What the page shows: the ids of its tokens, its heatmap's cells, its lens rows."""
    return browser.evaluate("""({
        ids: [...document.querySelectorAll('#tokens .token:not(.dropped)')]
               .map(t => Number(t.dataset.id)),
        generated: document.querySelectorAll('#tokens .token.generated').length,
        cells: document.querySelectorAll('#heatmap svg rect.cell').length,
        masked: document.querySelectorAll('#heatmap svg rect.masked').length,
        heatmap: document.querySelector('#heatmap svg')?.getAttribute('aria-label') ?? null,
        lens: [...document.querySelectorAll('#lens tbody tr')].map(row => [
               row.querySelector('th').firstChild.textContent,
               ...[...row.querySelectorAll('td.guess .chip')].map(c => Number(c.dataset.id))]),
        distribution: [...document.querySelectorAll('#distribution tbody tr .chip')]
               .map(c => Number(c.dataset.id)),
        message: document.getElementById('message').hidden ? null
                 : document.getElementById('message').textContent,
    })""")


def assert_shows(browser, explainer, prompt):
    sequence = explainer.sequence(prompt)
    T = len(sequence.ids)
    page = shown(browser)
    assert page["ids"] == list(sequence.ids)
    assert (page["cells"], page["masked"]) == (T * (T + 1) // 2, T * (T - 1) // 2)
    lens = explainer.lens(sequence)
    assert page["lens"] == [[row["name"], *[guess["id"] for guess in row["guesses"]]]
                            for row in lens["rows"]]
    expected = [row["id"] for row in explainer.distribution(sequence, show=15)["rows"]]
    assert page["distribution"] == expected
    assert page["message"] is None


def test_the_page_opens_with_the_example_prompt_analysed(page, explainer):
    assert page.evaluate("document.getElementById('prompt').value") == explainer.example_prompt
    assert_shows(page, explainer, explainer.example_prompt)
    assert page.evaluate("document.getElementById('model-name').textContent") == "gpt2-tiny"
    # spaces and newlines are visible, and every token tells its id on hover
    tokens = page.evaluate("[...document.querySelectorAll('#tokens .token')]"
                           ".map(t => [t.textContent, t.title, t.className])")
    visible = explainer.example_prompt.replace(" ", "·").replace("\n", "↵")
    assert "".join(text for text, _, _ in tokens) == visible
    assert all(title.startswith("id ") for _, title, _ in tokens)
    assert len({classes.split()[1] for _, _, classes in tokens}) == 8      # coloured in turn


def test_typing_a_prompt_shows_its_tokens_attention_and_lens(page, explainer):
    typed = "ROMEO:\nBut soft, what light"
    page.evaluate("document.getElementById('prompt').focus(), "
                  "document.getElementById('prompt').select()")
    page.type_text(typed)
    page.wait_for(f"document.body.dataset.analysed === {json.dumps(typed)} && {READY}")
    assert page.evaluate("document.getElementById('prompt').value") == typed
    assert_shows(page, explainer, typed)


def test_any_layer_and_head_can_be_chosen_and_a_cell_tells_its_weight(page, explainer):
    page.evaluate("""(() => {
        for (const [id, value] of [['layer', '1'], ['head', '3']]) {
            const select = document.getElementById(id);
            select.value = value;
            select.dispatchEvent(new Event('change'));
        }
    })()""")
    page.wait_for("document.querySelector('#heatmap svg').getAttribute('aria-label')"
                  ".endsWith('layer 1, head 3')")
    page.wait_for(READY)
    weights = explainer.attention(explainer.sequence(explainer.example_prompt), 1, 3)["weights"]
    cells = page.evaluate("[...document.querySelectorAll('#heatmap rect.cell')]"
                          ".map(r => [Number(r.dataset.row), Number(r.dataset.column),"
                          " Number(r.dataset.weight)])")
    for i, j, weight in cells:
        assert weight == weights[i][j]
    page.evaluate("document.querySelector('#heatmap rect.cell[data-row=\"5\"][data-column=\"2\"]')"
                  ".dispatchEvent(new MouseEvent('mouseover', {bubbles: true}))")
    readout = page.evaluate("document.getElementById('attention-readout').textContent")
    assert readout.endswith(f"(2): {weights[5][2]:.4f}")


def test_the_sampling_controls_say_which_tokens_survive(page, explainer):
    page.click("#use-top-k")
    page.click("#use-top-p")
    page.wait_for(READY)
    page.wait_for("document.querySelectorAll('#distribution tr.cut').length > 0")
    sequence = explainer.sequence(explainer.example_prompt)
    expected = explainer.distribution(sequence, 1.0, 10, 0.9, show=15)
    cut = page.evaluate("[...document.querySelectorAll('#distribution tbody tr')]"
                        ".map(row => row.classList.contains('cut'))")
    assert cut == [row["final"] == 0 for row in expected["rows"]]
    summary = page.evaluate("document.getElementById('distribution-summary').textContent")
    assert f"top-k keeps {expected['after_top_k']}" in summary
    assert f"top-p keeps {expected['after_top_p']} of those" in summary


def test_next_token_appends_a_token_and_the_cache_grows(page, explainer):
    prompt_ids = list(explainer.sequence(explainer.example_prompt).ids)
    for step in range(1, 4):
        page.click("#next-token")
        page.wait_for(f"document.querySelectorAll('#tokens .token.generated').length === {step}"
                      f" && {READY}")
        cache = page.evaluate("document.getElementById('cache-text').textContent")
        assert cache.startswith(f"KV cache: {len(prompt_ids) + step - 1} of 128 positions")
    expected = explainer.model.generate(np.array([prompt_ids]), 3, seed=0)[0].tolist()
    assert shown(page)["ids"] == expected
    generated = page.evaluate("document.querySelector('#generated mark').textContent")
    assert generated == explainer.tokenizer.decode(expected[len(prompt_ids):])


def test_an_empty_prompt_is_said_on_the_page(page, site):
    browser, _ = site
    seen = len(browser.events)
    page.evaluate("document.getElementById('prompt').focus(), "
                  "document.getElementById('prompt').select()")
    page.backspace()
    page.wait_for("document.body.dataset.state === 'error'")
    assert "the prompt is empty" in shown(page)["message"]
    assert shown(page)["cells"] == 0
    # the only failed request is the one refused for the empty prompt
    assert len(browser.problems(since=seen, network=True)) == 1
    page.type_text("Hi")
    page.wait_for(f"document.body.dataset.analysed === 'Hi' && {READY}")
    assert shown(page)["message"] is None


def test_the_screenshot_is_of_this_page(page):
    """TINYGPT_WRITE_SCREENSHOT=1 rewrites docs/explain.png: the page on its example prompt
    with top-k and top-p on, two tokens generated and the mouse on the first (its id
    shows)."""
    if os.environ.get("TINYGPT_WRITE_SCREENSHOT"):
        page.click("#use-top-k")
        page.click("#use-top-p")
        for step in (1, 2):
            page.click("#next-token")
            page.wait_for(f"document.querySelectorAll('#tokens .token.generated').length "
                          f"=== {step} && {READY}")
        page.evaluate("window.scrollTo(0, 0)")
        page.hover("#tokens .token.generated")
        assert page.evaluate("document.querySelector('#tokens .token.generated')"
                             ".matches(':hover')")
        SCREENSHOT.parent.mkdir(exist_ok=True)
        with atomic_write(SCREENSHOT) as f:
            f.write(page.screenshot())
    png = SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])         # the IHDR chunk
    assert width == WIDTH and height > 1500
