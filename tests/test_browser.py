"""A student's view in a real browser: JupyterLab 4 on loopback, Debian's headless Chromium driven through
chromium-driver and selenium.

One test opens the solution version of lecture 02 (the release with the instructor's answers filled in,
as a strong student would hand it in), runs every cell, saves, presses nbgrader's *Validate* button and
reads its verdict; the other opens the untouched release of lecture 04 and checks that *Run All* stops at
the first stub with the expected ``NotImplementedError``. Screenshots land in ``test-artifacts/browser/``
(or ``$MLBD_TEST_ARTIFACTS/browser``). Skipped, with the reason, where chromium/chromedriver are absent
(``scripts/setup_env.sh`` installs them from Debian).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _artifacts() -> Path:
    out = Path(os.environ.get("MLBD_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory, built_data):
    """JupyterLab on 127.0.0.1 with a random token, in a temporary home; yields (url, token, workdir)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"headless browser not installed ({CHROMIUM}, {CHROMEDRIVER}): apt-get install chromium "
                    "chromium-driver")
    pytest.importorskip("selenium")
    home = tmp_path_factory.mktemp("home")
    work = tmp_path_factory.mktemp("work")
    settings = home / "lab-settings"
    # the whole notebook in the DOM (no virtual scrolling), no news pop-up
    for rel, value in [("@jupyterlab/notebook-extension/tracker.jupyterlab-settings", {"windowingMode": "none"}),
                       ("@jupyterlab/apputils-extension/notification.jupyterlab-settings",
                        {"fetchNews": "false", "checkForUpdates": False})]:
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    token, port = secrets.token_hex(16), _free_port()
    env = dict(os.environ, HOME=str(home), JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3",
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    log = (home / "jupyter.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not start:\n{(home / 'jupyter.log').read_text()[-3000:]}")
        yield url, token, work
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


@pytest.fixture()
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1500,1100", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(predicate, timeout: float, what: str, driver=None, shot: Path | None = None):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    if driver is not None and shot is not None:
        driver.save_screenshot(str(shot))
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _open_and_run_all(driver, url, token, name, shot_prefix):
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/lab/tree/{name}?reset&token={token}")  # reset: a fresh workspace, one notebook open
    _wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"), 90, "the notebook to render",
          driver, _artifacts() / f"{shot_prefix}-load-timeout.png")
    _wait(lambda: "Idle" in (driver.find_element(By.TAG_NAME, "body").text or "")
          or driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator[data-status='idle']"),
          90, "the kernel to start", driver, _artifacts() / f"{shot_prefix}-kernel-timeout.png")
    menu = [m for m in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if m.text == "Run"]
    assert menu, "JupyterLab's Run menu is missing"
    menu[0].click()
    items = _wait(lambda: [i for i in driver.find_elements(By.CSS_SELECTOR, "li.lm-Menu-item")
                           if i.text.startswith("Run All Cells")], 10, "the Run All Cells menu item",
                  driver, _artifacts() / f"{shot_prefix}-menu.png")
    items[0].click()


def _prompts(driver):
    from selenium.webdriver.common.by import By

    return [p.text for p in driver.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputArea-prompt")]


def _save(driver):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    [n for n in driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook") if n.is_displayed()][0].click()
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
    time.sleep(2)


def test_solution_runs_clean_and_validates(lab_server, browser):
    """The solution of lecture 02, run in the browser: every cell executes without an error, the nbgrader
    extensions are there (Nbgrader menu with the Assignment List, Validate button), Validate passes."""
    from selenium.webdriver.common.by import By

    sys.path.insert(0, str(ROOT / "instructor"))
    from mlbd_course.grading.mutants import solution_submission

    url, token, work = lab_server
    lab = "lecture02_exploration"
    nb = solution_submission(nbformat.read(str(ROOT / "source" / lab / f"{lab}.ipynb"), as_version=4),
                             nbformat.read(str(ROOT / "release" / lab / f"{lab}.ipynb"), as_version=4))
    nbformat.write(nb, str(work / f"{lab}.ipynb"))
    t0 = time.monotonic()
    _open_and_run_all(browser, url, token, f"{lab}.ipynb", "solution")
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    _wait(lambda: (p := _prompts(browser)) and len(p) == n_code and all(x.strip() not in ("[ ]:", "[*]:", "")
                                                                       for x in p),
          300, "every cell to run", browser, _artifacts() / "solution-run-timeout.png")
    browser.save_screenshot(str(_artifacts() / "solution-executed.png"))
    _save(browser)
    saved = nbformat.read(str(work / f"{lab}.ipynb"), as_version=4)
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(saved.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"cells raised errors in the browser: {errors[:3]}"
    assert all(c.execution_count for c in saved.cells if c.cell_type == "code"), "some cells did not run"

    # nbgrader's student extensions: the Nbgrader menu (Assignment List) and the Validate button
    menus = [m.text for m in browser.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel")]
    assert "Nbgrader" in menus, f"the nbgrader extension's menu is missing: {menus}"
    [m for m in browser.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if m.text == "Nbgrader"][0].click()
    items = [i.text for i in browser.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel")]
    assert "Assignment List" in items, f"Nbgrader menu items: {items}"
    browser.find_element(By.TAG_NAME, "body").send_keys("\ue00c")  # Escape closes the menu
    buttons = browser.find_elements(By.CSS_SELECTOR, ".validate-button")
    assert buttons, "nbgrader's Validate button is missing from the notebook toolbar"
    buttons[0].click()
    dialog = _wait(lambda: [d for d in browser.find_elements(By.CSS_SELECTOR, ".jp-Dialog-content")
                            if "Validat" in d.text and "progress" not in d.text.lower()],
                   240, "the validation result", browser, _artifacts() / "validate-timeout.png")
    _wait(lambda: "Success" in dialog[0].text or "fail" in dialog[0].text.lower(), 240, "the validation verdict")
    browser.save_screenshot(str(_artifacts() / "solution-validate.png"))
    assert "Success" in dialog[0].text, f"Validate did not pass: {dialog[0].text[:500]}"
    print(f"browser: solution of {lab} ran and validated in {time.monotonic() - t0:.0f} s")


def test_release_stops_at_the_first_stub(lab_server, browser):
    """The untouched release of lecture 04: cells run until the first answer cell, which raises the stub's
    NotImplementedError; nothing else fails before it."""
    url, token, work = lab_server
    lab = "lecture04_trees_knn"
    shutil.copy(ROOT / "release" / lab / f"{lab}.ipynb", work / f"{lab}.ipynb")
    _open_and_run_all(browser, url, token, f"{lab}.ipynb", "release")
    _wait(lambda: any("NotImplementedError" in o.text for o in
                      browser.find_elements("css selector", ".jp-OutputArea-output")),
          300, "the stub's NotImplementedError", browser, _artifacts() / "release-run-timeout.png")
    _wait(lambda: not any(p.strip() == "[*]:" for p in _prompts(browser)), 60, "the kernel to finish")
    stub = [o for o in browser.find_elements("css selector", ".jp-OutputArea-output") if "NotImplementedError" in o.text]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", stub[0])
    time.sleep(0.5)
    browser.save_screenshot(str(_artifacts() / "release-stub-error.png"))
    _save(browser)
    saved = nbformat.read(str(work / f"{lab}.ipynb"), as_version=4)
    errors = [(c.metadata.get("nbgrader", {}).get("grade_id"), o.get("ename")) for c in saved.cells
              if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors, "the release ran without reaching a stub"
    first_answer = next(c.metadata["nbgrader"]["grade_id"] for c in saved.cells
                        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code")
    assert errors[0] == (first_answer, "NotImplementedError"), f"first error {errors[0]}, expected the stub " \
                                                               f"of {first_answer}"
    assert len(errors) == 1, f"Run All should stop at the first error, got {errors}"
