"""The query page and an entity page in headless Chromium, against a real server process.

Chromium may reach 127.0.0.1 only: every other address goes to a dead proxy, and each test
checks Chromium's own network log that no request left the loopback address. A missing
Chromium fails the tests with the command that installs it (``.ci/run`` does).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from rdflib.namespace import RDFS
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from kg.config import settings
from kg.namespaces import BASE, ID
from kg.queries import saved_queries_as_examples
from kg.serve import ui
from server import run_server

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_CHROMIUM = "apt-get update && apt-get install -y chromium chromium-driver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
    # Loopback never uses a proxy; everything else is sent to a port where nothing listens.
    "--proxy-server=http://127.0.0.1:9",
)
WAIT = 30
ENTITY = ID["country/UKR"]
JSON_RESULTS = "application/sparql-results+json"
MINI = Path(__file__).parent / "fixtures" / "mini.trig"


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The root URL (with its slash) of our server on the built dataset."""
    with run_server() as running:
        yield running.base_url.rstrip("/") + "/"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile and its network log on."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.fail(f"headless Chromium is needed but {', '.join(missing)} is missing: run `{INSTALL_CHROMIUM}`")
    with tempfile.TemporaryDirectory(prefix="kg-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def network_events(driver: WebDriver) -> list[dict[str, Any]]:
    """Chromium's network events since the last call (the log empties as it is read)."""
    messages = (json.loads(entry["message"])["message"] for entry in driver.get_log("performance"))
    return [m for m in messages if m["method"].startswith("Network.")]


def requested_urls(events: list[dict[str, Any]]) -> list[str]:
    """Every URL the page asked the network for (browser-internal schemes left out)."""
    urls = (e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent")
    return [url for url in urls if urlsplit(url).scheme in {"http", "https", "ws", "wss"}]


def assert_loopback_only(events: list[dict[str, Any]], page: str) -> None:
    urls = requested_urls(events)
    assert page in urls, f"the network log does not show {page}: {urls}"
    outside = [url for url in urls if urlsplit(url).hostname != "127.0.0.1"]
    assert not outside, f"the page reached beyond 127.0.0.1: {outside}"


def document_response(events: list[dict[str, Any]], url: str) -> dict[str, Any]:
    """The HTTP response Chromium got for the page at ``url``."""
    for event in events:
        if event["method"] == "Network.responseReceived" and event["params"]["response"]["url"] == url:
            return event["params"]["response"]
    raise AssertionError(f"no response for {url} in the network log")


def wait_for(driver: WebDriver, script: str, what: str) -> Any:
    """Polls ``script`` (JavaScript returning a value) until it is truthy."""
    try:
        return WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(script))
    except TimeoutException:
        body = driver.execute_script("return document.body ? document.body.innerText : ''")
        raise AssertionError(f"{what} did not happen within {WAIT} s; the page shows:\n{body[:2000]}") from None


def local_url(site: str, iri: str) -> str:
    """Where the page should link an IRI: ours map onto this server, others stay as they are."""
    return site + iri[len(BASE) :] if iri.startswith(BASE) else iri


def assert_row_shows(site: str, cells: list[dict[str, Any]], variables: list[str], row: dict) -> None:
    """A table row shows each binding: an IRI as a link, a literal's text, an unbound cell empty."""
    assert len(cells) == len(variables)
    for cell, variable in zip(cells, variables, strict=True):
        term = row.get(variable)
        if term is None:
            assert cell["text"].strip() == "", f"?{variable} is unbound but shows {cell['text']!r}"
        elif term["type"] == "uri":
            assert local_url(site, term["value"]) in cell["links"], f"?{variable}: {term} not in {cell}"
        else:
            assert term["value"] in cell["text"], f"?{variable}: {term} not in {cell}"


def select(site: str, query: str) -> dict[str, Any]:
    """SPARQL JSON results for ``query``, straight from the server."""
    response = httpx.post(site + "sparql", data={"query": query}, headers={"Accept": JSON_RESULTS})
    assert response.status_code == 200, response.text
    return response.json()


TABLE_ROWS = """
return Array.from(document.querySelectorAll('.yasr table.dataTable tbody tr')).map(tr =>
  Array.from(tr.querySelectorAll('td')).slice(1).map(td =>
    ({text: td.textContent, links: Array.from(td.querySelectorAll('a.iri')).map(a => a.href)})));
"""


def test_query_page_runs_the_first_saved_query(site: str, browser: WebDriver) -> None:
    if not ui.assets_installed():
        pytest.fail(ui.install_hint())
    page = site + "sparql"
    network_events(browser)
    browser.get(page)
    wait_for(browser, "return Boolean(window.kgYasgui && window.kgYasgui.getTab())", "YASGUI start-up")

    examples = saved_queries_as_examples()
    assert examples, f"no saved query in {settings().queries_dir}"
    tabs = browser.execute_script(
        "const y = window.kgYasgui; return y.persistentConfig.getTabs().map(id => y.getTab(id).getName());"
    )
    assert tabs == [example["title"] for example in examples], "the tabs are not the saved queries"
    active = browser.execute_script("const t = window.kgYasgui.getTab(); return [t.getName(), t.getQuery()];")
    assert active == [examples[0]["title"], examples[0]["query"]], "the first saved query is not the active tab"

    browser.find_element(By.CSS_SELECTOR, ".tabPanel.active .yasqe_queryButton").click()
    wait_for(browser, "return Boolean(document.querySelector('.yasr table.dataTable tbody tr td'))", "a result table")

    expected = select(site, examples[0]["query"])
    variables, rows = expected["head"]["vars"], expected["results"]["bindings"]
    assert rows, "the first saved query returns no rows, so the table shows nothing to compare"
    shown = browser.execute_script(TABLE_ROWS)
    page_size = int(browser.find_element(By.CSS_SELECTOR, ".yasr select.tableSizer").get_attribute("value"))
    assert len(shown) == min(len(rows), page_size)
    for cells, row in zip(shown, rows, strict=False):
        assert_row_shows(site, cells, variables, row)
    assert_loopback_only(network_events(browser), page)


def test_entity_page_opens(site: str, browser: WebDriver) -> None:
    labels = select(site, f"SELECT ?label WHERE {{ <{ENTITY}> <{RDFS.label}> ?label }}")["results"]["bindings"]
    assert labels, f"{ENTITY} has no rdfs:label in the data"
    page = local_url(site, str(ENTITY))
    network_events(browser)
    browser.get(page)
    events = network_events(browser)
    response = document_response(events, page)
    assert response["status"] == 200
    assert response["mimeType"] == "text/html"
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert any(label["label"]["value"] in heading for label in labels), f"{heading!r} names none of {labels}"
    assert_loopback_only(events, page)


def test_page_without_assets_says_how_to_install(browser: WebDriver, tmp_path: Path) -> None:
    """With no YASGUI build (an empty ``KG_ASSETS_DIR``) the page explains itself instead of going blank."""
    with run_server(MINI, env={ui.ASSETS_ENV: str(tmp_path)}) as running:
        site = running.base_url.rstrip("/") + "/"
        asset = httpx.get(site + "assets/yasgui/yasgui.min.js")
        assert asset.status_code == 404
        assert f"`{ui.INSTALL_COMMAND}`" in asset.text
        page = site + "sparql"
        network_events(browser)
        browser.get(page)
        notice = browser.find_element(By.ID, "kg-assets-missing").text
        assert "not installed" in notice
        assert ui.INSTALL_COMMAND in [pre.text for pre in browser.find_elements(By.TAG_NAME, "pre")]
        assert browser.find_element(By.ID, "kg-endpoint").text == page
        assert_loopback_only(network_events(browser), page)
