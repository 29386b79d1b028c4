"""The page in a real headless Chromium (Debian's package, driven by Playwright), served by uvicorn on loopback.

One visit does what a user would: upload a demo recording, wait for the notes, check that
the piano roll and the score are drawn and that hovering a note names it, play the rendered
notes, continue the melody, convert the take, analyse it window by window, run the live
detector on Chromium's fake microphone fed with the same recording (a trumpet: one voice),
and record from that microphone to transcribe the recording.
Screenshots go to ``$TUNESMITH_SCREENSHOTS`` (default: pytest's temporary folder).

Skipped with a message when Chromium or Playwright is missing, except under CI (``CI`` set),
where that is a failure: ``scripts/setup.sh`` installs both.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
ROOT = Path(__file__).resolve().parents[1]
TAKE = ROOT / "data" / "songs" / "kinder0-007-schlaf-du-liebe-kleine-trumpet.wav"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
TIMEOUT_MS = 30_000


def _chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _missing(what: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing; scripts/setup.sh should have installed it")
    pytest.skip(f"{what} is missing (bash scripts/setup.sh installs it)")


def _launch(pw, exe: str, fake_microphone: Path):
    return pw.chromium.launch(executable_path=exe, headless=True, args=[
        "--no-sandbox", "--disable-dev-shm-usage",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_microphone}", "--autoplay-policy=no-user-gesture-required"])


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready='1']")
    return page, errors


@pytest.fixture(scope="module")
def served():
    """(url, playwright, chromium path): one server and one Playwright for the module."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Playwright Python package")
    exe = _chromium()
    if exe is None:
        _missing("Debian's chromium")
    from tunesmith.web import create_app
    from tunesmith.web.server import BackgroundServer

    with BackgroundServer(create_app(workers=2)) as url, sync_playwright() as pw:
        yield url, pw, exe


@pytest.fixture(scope="module")
def browser_page(served):
    url, pw, exe = served
    browser = _launch(pw, exe, TAKE)
    yield _open(browser, url)
    browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    out = Path(os.environ.get("TUNESMITH_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _lit_pixels(page, selector: str) -> int:
    """Pixels of a canvas brighter than its dark background (something was drawn)."""
    return page.evaluate("""(sel) => {
        const c = document.querySelector(sel), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 240) n++;
        return n; }""", selector)


def test_a_text_file_named_wav_gets_a_one_line_message(browser_page, tmp_path):
    page, errors = browser_page
    fake = tmp_path / "notes.wav"
    fake.write_text("not a recording\n" * 10)
    page.set_input_files("#file", str(fake))
    page.wait_for_selector("#error:not([hidden])")
    assert "not a recording" in page.inner_text("#error")
    assert page.is_hidden("#notes")
    assert not errors, errors


def test_upload_notes_score_play(browser_page, shots):
    page, errors = browser_page
    page.set_input_files("#file", str(TAKE))
    page.wait_for_selector("body[data-notes-shown]")
    n_notes = int(page.get_attribute("body", "data-notes-shown"))
    assert n_notes >= 20                                   # the song has 31 notes; silence would give 0
    assert page.get_attribute("#pianoroll", "data-notes") == str(n_notes)
    assert _lit_pixels(page, "#pianoroll") > 500
    assert int(page.get_attribute("#spectrogram", "data-drawn")) == n_notes

    page.wait_for_selector("#score[data-rendered='1']")
    assert page.locator("#score svg").count() >= 1
    assert page.locator("#score svg path, #score svg rect").count() > 50   # staff lines, note heads, stems
    page.wait_for_selector("#downloads a[download='notes.mid']")
    for name in ("notes.mid", "notes.musicxml", "notes.csv"):
        assert page.locator(f"#downloads a[download='{name}']").count() == 1

    # hovering the first note names it
    first = page.evaluate("window.tunesmith.result.notes[0]")
    pos = page.evaluate("(n) => document.getElementById('pianoroll').locate(n)", first)
    box = page.locator("#pianoroll").bounding_box()
    page.mouse.move(box["x"] + pos["x"], box["y"] + pos["y"])
    tip = page.locator("#notes .plot .tip").nth(0)
    assert first["name"] in tip.inner_text()

    # play the rendered notes: the player advances
    page.evaluate("document.getElementById('play-notes').play()")
    page.wait_for_function("document.getElementById('play-notes').currentTime > 0.3")
    page.screenshot(path=str(shots / "1-notes.png"), full_page=True)
    page.evaluate("document.getElementById('play-notes').pause()")
    assert not errors, errors


def test_continue_and_convert(browser_page, shots):
    page, errors = browser_page
    page.fill("#compose-form input[name='length']", "24")
    page.fill("#compose-form input[name='seed']", "7")
    page.click("#compose-form button[type='submit']")
    page.wait_for_selector("#compose-roll[data-notes]")
    res = page.evaluate("window.tunesmith.result")
    total = int(page.get_attribute("#compose-roll", "data-notes"))
    assert total > len(res["notes"])                       # primer kept, new notes after it
    page.wait_for_selector("#compose-downloads a[download='continuation.mid']")

    page.click("#convert-go")
    page.wait_for_selector("#convert-after[data-drawn='1']")
    assert page.get_attribute("#play-after", "src").endswith("converted.wav")
    page.screenshot(path=str(shots / "2-compose-convert.png"), full_page=True)
    assert not errors, errors


def test_voices_file_and_live(browser_page, shots):
    page, errors = browser_page
    page.click("#voices-go")
    page.wait_for_selector("#voices-timeline[data-windows]")
    assert int(page.get_attribute("#voices-timeline", "data-windows")) >= 5
    assert "One voice" in page.inner_text("#voices-summary")

    page.click("#live-go")
    page.wait_for_function("+(document.getElementById('live').dataset.decisions || 0) >= 3", timeout=TIMEOUT_MS)
    latency = page.inner_text("#live-latency")
    assert latency.endswith("ms") and float(latency.split()[0]) < 1000
    assert page.get_attribute("#live", "data-label") == "one"      # the fake microphone plays a trumpet
    page.locator("#voices").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "3-voices.png"), full_page=True)
    page.click("#live-go")
    assert not page.inner_text("#live-error").strip()
    assert not errors, errors


def test_api_docs_page_works_offline(browser_page, shots):
    page, _ = browser_page
    url = page.url
    page.goto(url.rstrip("/") + "/docs")
    page.wait_for_selector(".swagger-ui .opblock")
    assert "/api/transcribe" in page.inner_text(".swagger-ui")
    page.screenshot(path=str(shots / "4-docs.png"))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")


def test_record_from_the_microphone(browser_page):
    """Record two seconds from the fake microphone (the trumpet take): the recording is transcribed."""
    page, errors = browser_page
    page.click("#record")
    page.wait_for_timeout(2500)
    page.click("#record")
    page.wait_for_function("window.tunesmith.result && window.tunesmith.result.name === 'recording'")
    page.wait_for_selector("#score[data-rendered='1']")
    notes = page.evaluate("window.tunesmith.result.notes")
    assert len(notes) >= 2 and all(55 <= n["pitch"] <= 80 for n in notes)   # the song lies in F4-F5
    assert not errors, errors


def test_live_detector_hears_two_instruments_as_several(served, tmp_path):
    """A second browser whose fake microphone plays the trumpet and the violin songs at once."""
    import numpy as np

    from tunesmith.audio import Audio, load, save

    a = load(TAKE, sr=16000).samples
    b = load(TAKE.with_name("kinder0-003-schloap-kingeken-schloap-violin.flac"), sr=16000).samples
    n = min(len(a), len(b))
    mix = save(Audio(0.45 * (a[:n] / np.abs(a).max() + b[:n] / np.abs(b).max()), 16000), tmp_path / "duet.wav")
    url, pw, exe = served
    browser = _launch(pw, exe, mix)
    try:
        page, errors = _open(browser, url)
        page.click("#live-go")
        page.wait_for_function("+(document.getElementById('live').dataset.decisions || 0) >= 4",
                               timeout=TIMEOUT_MS)
        p = page.evaluate("window.liveDecisions().map((d) => d.p)")
        assert sum(x >= 0.5 for x in p) > len(p) / 2, p    # most decisions: several
        assert not errors, errors
    finally:
        browser.close()
