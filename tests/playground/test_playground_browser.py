"""End-to-end tests of the playground in a real headless Chromium (Selenium).

The server runs as `python -m numnet playground --port 0`; the page is driven
by clicks, selects and file inputs, and read through `window.numnetPlayground`
(the page's state, last frame and drawing statistics) and the canvas pixels.
Debian's `chromium` and `chromium-driver` packages provide the browser
(`.ci/run` installs them).
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

webdriver = pytest.importorskip("selenium.webdriver",
                                reason="Selenium comes with the `test` extra")
pytest.importorskip("starlette", reason="the playground server needs the `playground` extra")
pytest.importorskip("h5py", reason="the .keras format needs h5py (the `test` extra has it)")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

import numnet  # noqa: E402
from numnet.playground import datasets  # noqa: E402
from numnet.playground.engine import grid_points  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def server_url():
    process = subprocess.Popen([sys.executable, "-m", "numnet", "playground", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    if not match:
        process.kill()
        raise RuntimeError(f"the playground did not start: {line}{process.stdout.read()}")
    yield match.group(0)
    process.terminate()
    process.wait(timeout=20)
    process.stdout.close()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Chromium and its driver are not installed (Debian: apt-get install "
                    "chromium chromium-driver; .ci/run does it)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver
    driver.quit()


def app(browser, expression):
    """Evaluates `expression` with `app` bound to the page's `window.numnetPlayground`."""
    return browser.execute_script(f"const app = window.numnetPlayground; return {expression};")


def wait(browser, expression, timeout=30, message=""):
    # `app` is undefined until the page's module has run (a tab just opened on a link).
    WebDriverWait(browser, timeout, poll_frequency=0.05).until(
        lambda driver: app(driver, f"app !== undefined && ({expression})"),
        message or expression)


def open_page(browser, url, hash_=""):
    browser.get("about:blank")  # so that a link differing only in its hash loads anew
    browser.get(url + ("#" + hash_ if hash_ else ""))
    wait(browser, "app.frame && app.network && app.frame.generation >= app.network.generation")


def settle(browser, change):
    """Does `change` (a function) and waits for the rebuilt network's first frame."""
    generation = app(browser, "app.network.generation")
    change()
    wait(browser, f"app.network.generation > {generation} && app.frame.generation >= "
                  "app.network.generation")


def heatmap_colours(browser):
    """Fractions of orange-ish and blue-ish pixels, and distinct colours, of the boundary."""
    return browser.execute_script("""
        const canvas = document.getElementById('heatmap');
        const margin = window.numnetPlayground.views.heatmap.margin;
        const side = canvas.width - 2 * margin;
        const pixels = canvas.getContext('2d').getImageData(margin, margin, side, side).data;
        let orange = 0, blue = 0;
        const colours = new Set();
        for (let k = 0; k < pixels.length; k += 4) {
          const [r, g, b] = [pixels[k], pixels[k + 1], pixels[k + 2]];
          colours.add((r << 16) | (g << 8) | b);
          if (r > 200 && b < 120) orange++;
          if (b > 150 && r < 100) blue++;
        }
        const n = pixels.length / 4;
        return [orange / n, blue / n, colours.size];
    """)


def frame_output(browser):
    data = base64.b64decode(app(browser, "app.frame.output"))
    return np.frombuffer(data, dtype="<f4")


def test_spiral_trains_and_the_boundary_is_drawn(browser, server_url, tmp_path):
    open_page(browser, server_url, "features=x1,x2,sinx1,sinx2&layers=8,8&learningRate=0.1")
    settle(browser, browser.find_element(By.CSS_SELECTOR, "canvas[data-dataset=spiral]").click)
    settle(browser, browser.find_element(By.ID, "add-layer").click)
    assert app(browser, "app.state.layers") == [8, 8, 2]
    assert app(browser, "app.state.dataset") == "spiral"
    assert browser.find_element(By.ID, "layer-count").text.lower() == "3 hidden layers"
    browser.find_element(By.ID, "play").click()
    wait(browser, "app.frame.testLoss !== null && app.frame.testLoss < 0.15", timeout=40)
    browser.find_element(By.ID, "play").click()
    wait(browser, "!app.playing")
    shown = float(browser.find_element(By.ID, "test-loss").text)
    assert shown == pytest.approx(app(browser, "app.frame.testLoss"), abs=5e-4) and shown < 0.5
    epoch = app(browser, "app.frame.epoch")
    assert epoch > 0 and int(browser.find_element(By.ID, "epoch").text.replace(",", "")) == epoch
    orange, blue, colours = heatmap_colours(browser)
    assert orange > 0.15 and blue > 0.15 and colours > 50, (orange, blue, colours)
    shot = tmp_path / "spiral.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20000


def test_perceptron_fails_visibly_on_xor(browser, server_url):
    open_page(browser, server_url, "points=100&learningRate=1")
    settle(browser, lambda: Select(browser.find_element(By.ID, "mode")).select_by_value(
        "perceptron"))
    settle(browser, browser.find_element(By.CSS_SELECTOR, "canvas[data-dataset=xor]").click)
    assert app(browser, "app.network.mode") == "perceptron"
    assert not browser.find_element(By.ID, "add-layer").is_displayed()
    browser.find_element(By.ID, "play").click()
    wait(browser, "app.frame.epoch >= 2")
    first = app(browser, "app.frame.weights")
    wait(browser, "app.frame.epoch >= 4", timeout=40)
    browser.find_element(By.ID, "play").click()
    wait(browser, "!app.playing")
    assert app(browser, "app.frame.weights") != first  # the line keeps moving
    assert app(browser, "app.frame.status.converged") is False
    assert app(browser, "app.frame.status.errorsLastEpoch") > 5
    assert app(browser, "app.frame.trainLoss") > 0.2
    status = browser.find_element(By.ID, "perceptron-status")
    assert status.is_displayed() and "Not converged" in status.text


def test_export_keras_predicts_what_the_page_shows(browser, server_url, downloads):
    open_page(browser, server_url, "dataset=gauss&features=x1,x2,x1sq&layers=3&seed=4")
    for _ in range(3):
        browser.find_element(By.ID, "step").click()
    wait(browser, "app.frame.epoch === 3 && !app.playing")
    for old in downloads.glob("*"):
        old.unlink()
    browser.find_element(By.ID, "export-keras").click()
    path = downloads / "playground-gauss.keras"
    deadline = time.monotonic() + 20
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # let the download finish writing
    model = numnet.models.load_model(str(path))
    grid = datasets.feature_matrix(grid_points(datasets.DOMAIN), ["x1", "x2", "x1sq"])
    predicted = model.predict(grid, batch_size=len(grid), verbose=0)[:, 0]
    np.testing.assert_array_equal(predicted, frame_output(browser))
    browser.find_element(By.ID, "show-snippet").click()
    code = browser.find_element(By.ID, "snippet-text")
    WebDriverWait(browser, 10).until(lambda _: "EPOCHS = 3" in code.text)
    assert 'datasets.make_data("gauss"' in code.text and "seed=4" in code.text
    browser.find_element(By.ID, "snippet-close").click()
    assert not code.is_displayed()


def test_a_shared_link_reproduces_the_experiment(browser, server_url):
    open_page(browser, server_url)
    settle(browser, browser.find_element(By.CSS_SELECTOR, "canvas[data-dataset=gauss]").click)
    settle(browser, lambda: Select(browser.find_element(By.ID, "activation")).select_by_value(
        "relu"))
    settle(browser, browser.find_element(By.CSS_SELECTOR, "[data-feature=x1x2]").click)
    settle(browser, browser.find_element(By.CSS_SELECTOR,
                                         "button[data-layer='0'][data-delta='1']").click)
    browser.execute_script("document.getElementById('noise').value = 30;"
                           "document.getElementById('noise').dispatchEvent(new Event('change'))")
    wait(browser, "app.state.noise === 30 && app.frame.generation >= app.network.generation")
    link = browser.current_url
    assert "noise=30" in link and "features=x1,x2,x1x2" in link and "layers=5,2" in link
    state = app(browser, "app.state")
    output = app(browser, "app.frame.output")
    train = app(browser, "app.network.train")
    original = browser.current_window_handle
    browser.switch_to.new_window("tab")
    try:
        browser.get(link)
        wait(browser, "app.frame && app.network")
        assert app(browser, "app.state") == state
        assert app(browser, "app.network.train") == train
        assert app(browser, "app.frame.output") == output  # the same initial weights
        assert app(browser, "app.sessionId") != ""
        assert Select(browser.find_element(By.ID, "activation")).first_selected_option \
            .get_attribute("value") == "relu"
    finally:
        browser.close()
        browser.switch_to.window(original)


def heatmap_picture(browser):
    return browser.execute_script(
        "return document.getElementById('heatmap').toDataURL()")


def test_hovering_a_neuron_shows_its_map_large(browser, server_url):
    open_page(browser, server_url, "layers=3")
    output = heatmap_picture(browser)
    neuron = browser.find_element(By.CSS_SELECTOR, ".node-target[title^='neuron 2 of hidden']")
    ActionChains(browser).move_to_element(neuron).perform()
    wait(browser, "JSON.stringify(app.shownNeuron) === '[0,1]'")
    assert heatmap_picture(browser) != output
    ActionChains(browser).move_to_element(browser.find_element(By.ID, "epoch")).perform()
    wait(browser, "app.shownNeuron === null")
    assert heatmap_picture(browser) == output


def test_weights_are_read_and_edited_on_the_links(browser, server_url):
    open_page(browser, server_url)
    link = browser.find_elements(By.CSS_SELECTOR, "path.link-hit")[0]
    ActionChains(browser).move_to_element(link).perform()
    card = browser.find_element(By.ID, "card")
    WebDriverWait(browser, 10).until(lambda _: card.is_displayed())
    weight = app(browser, "app.frame.weights[0][0][0]")
    assert card.text == f"Weight is {weight:.3f}"
    ActionChains(browser).move_to_element(link).click().perform()
    field = browser.find_element(By.ID, "card-input")
    field.clear()
    field.send_keys("2.5", Keys.ENTER)
    wait(browser, "app.frame.weights[0][0][0] === 2.5")
    assert app(browser, "app.frame.epoch") == 0


def test_bad_link_and_bad_uploads_show_messages(browser, server_url, tmp_path):
    open_page(browser, server_url, "layers=9,9&learningRate=-2")
    message = browser.find_element(By.ID, "message-text")
    assert "were refused" in message.text and "layers" in message.text
    assert app(browser, "app.state.layers") == [4, 2]
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("1,2,3,4\n")
    browser.find_element(By.ID, "upload-csv").send_keys(str(bad_csv))
    WebDriverWait(browser, 10).until(lambda _: "line 1" in message.text)
    bad_model = tmp_path / "bad.keras"
    bad_model.write_bytes(b"not a model")
    browser.find_element(By.ID, "import-keras").send_keys(str(bad_model))
    WebDriverWait(browser, 10).until(lambda _: "not a model file" in message.text)
    good_csv = tmp_path / "good.csv"
    good_csv.write_text("x1,x2,label\n" + "".join(f"{x},{-x},{int(x > 0)}\n"
                                                  for x in range(-5, 6)))
    settle(browser, lambda: browser.find_element(By.ID, "upload-csv").send_keys(str(good_csv)))
    assert app(browser, "app.state.dataset") == "csv"
    assert len(app(browser, "app.network.train")) + len(app(browser, "app.network.test")) == 11
    assert "not part of the link" in browser.find_element(By.ID, "data-note").text
    settle(browser, lambda: browser.find_element(By.ID, "import-keras").send_keys(
        str(FIXTURES / "keras_xor.keras")))
    assert app(browser, "app.network.imported") and app(browser, "app.network.layers") == [6, 3]
    expected = np.load(FIXTURES / "keras_xor.npz")["predictions"][:, 0]
    np.testing.assert_allclose(frame_output(browser), expected, rtol=1e-5, atol=1e-6)


def test_a_link_can_hide_controls_for_a_lesson(browser, server_url):
    open_page(browser, server_url, "hide=noise,seed,export&hideText=true")
    assert not browser.find_element(By.ID, "noise").is_displayed()
    assert not browser.find_element(By.ID, "regenerate").is_displayed()
    assert not browser.find_element(By.ID, "export-keras").is_displayed()
    assert not browser.find_element(By.ID, "about").is_displayed()
    assert browser.find_element(By.ID, "trainRatio").is_displayed()


def test_speed_of_six_layers_of_eight_on_500_points(browser, server_url):
    """Updates trained and drawn per second, and latencies, printed for the record.

    The target is 20 updates a second on a 2-core machine of its own. A machine
    with more than twice as many runnable tasks as cores is shared with other
    work: there the test still asks for 6 a second (and prints the load).
    """
    open_page(browser, server_url, "dataset=spiral&layers=8,8,8,8,8,8&points=500")
    load = os.getloadavg()[0]
    browser.find_element(By.ID, "play").click()
    wait(browser, "app.frame.epoch >= 5")
    app(browser, "(app.stats.times.length = 0, app.stats.updateMs.length = 0, "
                 "app.stats.drawMs.length = 0, 0)")
    time.sleep(3)
    # The page stays responsive: a setting changed while training is applied at once.
    command_ms = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const app = window.numnetPlayground;
        const select = document.getElementById('learningRate');
        const started = performance.now();
        select.value = '0.1';
        select.dispatchEvent(new Event('change'));
        (function check() {
          if (app.state.learningRate === 0.1) done(performance.now() - started);
          else setTimeout(check, 1);
        })();""")
    stats = app(browser, "{times: app.stats.times, update: app.stats.updateMs, "
                         "draw: app.stats.drawMs, epoch: app.frame.epoch}")
    browser.find_element(By.ID, "play").click()
    wait(browser, "!app.playing")
    times = np.asarray(stats["times"])
    fps = (len(times) - 1) / ((times[-1] - times[0]) / 1000)
    for _ in range(5):  # one step at a time: from the click to the frame drawn
        count = app(browser, "app.stats.stepLatencyMs.length")
        browser.find_element(By.ID, "step").click()
        wait(browser, f"app.stats.stepLatencyMs.length > {count}")
    step_ms = app(browser, "app.stats.stepLatencyMs.slice(-5)")
    report = {"updates_per_second": round(fps, 1), "epochs": stats["epoch"],
              "server_update_ms_median": round(float(np.median(stats["update"])), 1),
              "draw_ms_median": round(float(np.median(stats["draw"])), 1),
              "step_latency_ms_median": round(float(np.median(step_ms)), 1),
              "setting_latency_ms": round(command_ms, 1),
              "load_average_1min": round(load, 2), "cores": os.cpu_count()}
    print("\nplayground speed:", json.dumps(report))
    shared = load > 2 * os.cpu_count()
    assert fps >= (6 if shared else 20), report
    assert command_ms < 1000 and np.median(step_ms) < 500, report
