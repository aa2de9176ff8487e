#!/usr/bin/env python3
"""Drives the course's web servers with a real headless Chromium (selenium + Debian's chromium-driver).

- rest-server: the restFront page adds users, renames one, deletes one, survives a reload, shows names as text,
  links to About, and shows a failed request in its #error box.
- cookie-server --login and session-server: the cookie2.html form logs in through the browser's own cookie jar
  (HttpOnly cookies, checked with get_cookies()); a tampered or guessed session cookie gets the login page again.

Run it either way (scripts/install-test-deps.sh installs what it needs; build the servers first with swift build):

    python3 Tests/browser/test_course_servers.py [--bin .build/debug] [--rest-cmd "..."] ...
    NETCORE_BIN=.build/debug python3 -m pytest Tests/browser

The plain form ends with an "N passed, N failed" line and exits 1 if any test failed. Each server is started with
--port 0 and its port read from its ready line; every server is killed at the end whatever happens. Screenshots go to
Tests/browser/output/ (gitignored).
"""

import argparse
import atexit
import json
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

READY_TIMEOUT = 15.0  # seconds for a server to print its ready line (a debug build under load can be slow)
WAIT_TIMEOUT = 10.0  # seconds for any one thing to appear in the browser

# The ready line: "<PORT>번 포트에서 서버 대기 중입니다! (http://HOST:PORT/)"; IPv6 hosts come in brackets. The
# seed's Node programs print the line without the URL (their host is every interface, so loopback reaches them).
READY_PATTERNS = [re.compile(r"http://\[([^\]]+)\]:(\d+)/"), re.compile(r"http://([^:/\[\]]+):(\d+)/"),
                  re.compile(r"^()(\d+)번 포트에서 서버 대기 중입니다")]


def default_config():
    binaries = Path(os.environ.get("NETCORE_BIN", str(REPO / ".build" / "debug")))

    def command(variable, program, *arguments):
        if os.environ.get(variable):
            return shlex.split(os.environ[variable])
        return [str(binaries / program), *arguments, "--host", "127.0.0.1", "--port", "0"]

    return {
        "rest": command("NETCORE_REST_CMD", "rest-server"),
        "cookie": command("NETCORE_COOKIE_CMD", "cookie-server", "--login"),
        "session": command("NETCORE_SESSION_CMD", "session-server"),
        "output": Path(os.environ.get("NETCORE_BROWSER_OUTPUT", str(HERE / "output"))),
        "chromium": os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium"),
        "chromedriver": os.environ.get("CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver"),
    }


CONFIG = default_config()


# --- servers -----------------------------------------------------------------------------------------------------

_running = []


class ServerProcess:
    """One server under test: started in its own process group, its output drained by a thread (so a chatty server
    never blocks on a full pipe) and kept for the failure message."""

    def __init__(self, command):
        if any("{port}" in argument for argument in command):
            # For servers that cannot take --port 0 (the seed's Node programs read PORT): a port free a moment ago.
            # Racy by nature, so only for checking this test against them by hand, never the default commands.
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            command = [argument.replace("{port}", str(port)) for argument in command]
        self.command = command
        self.lines = []
        self._queue = queue.Queue()
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as error:
            raise AssertionError(f"cannot start {shlex.join(command)}: {error}") from error
        _running.append(self)
        threading.Thread(target=self._drain, daemon=True).start()
        self.base_url = self._wait_until_ready()

    def _drain(self):
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def _wait_until_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(remaining, 0.001))
            except queue.Empty:
                raise AssertionError(f"{shlex.join(self.command)} printed no ready line in {READY_TIMEOUT} s; "
                                     f"output: {self.output()!r}") from None
            if line is None:
                raise AssertionError(f"{shlex.join(self.command)} exited ({self.process.wait()}) before its ready "
                                     f"line; output: {self.output()!r}")
            for pattern in READY_PATTERNS:
                match = pattern.search(line)
                if match:
                    host, port = match.group(1), int(match.group(2))
                    # A wildcard address is not one to connect to: use loopback instead.
                    if host in ("0.0.0.0", ""):
                        host = "127.0.0.1"
                    elif host == "::":
                        host = "::1"
                    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def output(self):
        return "\n".join(self.lines[-40:])

    def stop(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
        if self in _running:
            _running.remove(self)


def _stop_all_servers():
    for server in list(_running):
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - best effort at exit; the other servers must still be stopped
            pass


atexit.register(_stop_all_servers)


def _on_termination(signum, _frame):
    _stop_all_servers()
    sys.exit(128 + signum)


for _signal in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_signal, _on_termination)


# --- browser -----------------------------------------------------------------------------------------------------

class Browser:
    """A fresh headless Chromium with its own profile (so its own cookie jar) for one test."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="netcore-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CONFIG["chromium"]
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1000,700", "--no-first-run", "--no-default-browser-check",
                         "--disable-extensions", "--disable-background-networking", "--lang=ko-KR",
                         f"--user-data-dir={self.profile}"):
            options.add_argument(argument)
        # An explicit driver path: selenium would otherwise try to download one, and there is no internet here.
        service = Service(executable_path=CONFIG["chromedriver"])
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.set_page_load_timeout(WAIT_TIMEOUT * 2)

    def wait(self, condition, what):
        try:
            return WebDriverWait(self.driver, WAIT_TIMEOUT).until(lambda driver: condition(driver))
        except TimeoutException:
            raise AssertionError(f"timed out after {WAIT_TIMEOUT} s waiting for {what}; page: "
                                 f"{self.body_text()!r}") from None

    def body_text(self):
        try:
            return self.driver.find_element(By.TAG_NAME, "body").text
        except Exception:  # noqa: BLE001 - only for a failure message
            return "<no body>"

    def screenshot(self, name):
        CONFIG["output"].mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(CONFIG["output"] / name))

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


class Session:
    """A server and a browser for one test, both ended whatever happens."""

    def __init__(self, command):
        self.command = command

    def __enter__(self):
        self.server = ServerProcess(self.command)
        try:
            self.browser = Browser()
        except BaseException:
            self.server.stop()
            raise
        return self.server, self.browser

    def __exit__(self, kind, error, _traceback):
        exit_status = self.server.process.poll()
        try:
            if kind is not None:
                try:
                    self.browser.screenshot(f"failure-{Path(self.command[0]).name}.png")
                except Exception:  # noqa: BLE001 - a failure screenshot is a courtesy
                    pass
            self.browser.close()
        finally:
            self.server.stop()
        if kind is not None and issubclass(kind, AssertionError):
            state = "still running" if exit_status is None else f"exited with status {exit_status}"
            raise AssertionError(f"{error}\n--- server ({state}) output ---\n{self.server.output()}") from error
        return False


def http_get_json(url):
    with urllib.request.urlopen(url, timeout=WAIT_TIMEOUT) as response:
        return json.loads(response.read().decode("utf-8"))


# --- rest-server ---------------------------------------------------------------------------------------------------

def shown_users(driver):
    """(id, name) of each user row, in order."""
    return [(row.get_attribute("data-user-id"), row.find_element(By.CLASS_NAME, "user-name").text)
            for row in driver.find_elements(By.CSS_SELECTOR, "#list .user-row")]


def list_version(driver):
    return int(driver.find_element(By.ID, "list").get_attribute("data-version") or "0")


def wait_for_names(browser, names, after_version):
    """Waits for a render newer than after_version that shows exactly names (the page never reloads)."""
    def ready(driver):
        return list_version(driver) > after_version and [name for _, name in shown_users(driver)] == names
    browser.wait(ready, f"the list to show {names}")
    return list_version(browser.driver)


def add_user(browser, name):
    driver = browser.driver
    version = list_version(driver)
    field = driver.find_element(By.ID, "username")
    field.clear()
    field.send_keys(name)
    driver.find_element(By.CSS_SELECTOR, "#form button[type=submit]").click()
    return version


def row_for(driver, name):
    for row in driver.find_elements(By.CSS_SELECTOR, "#list .user-row"):
        if row.find_element(By.CLASS_NAME, "user-name").text == name:
            return row
    raise AssertionError(f"no row shows {name!r}; rows: {shown_users(driver)}")


def test_rest_front_end_adds_edits_deletes_and_reloads():
    with Session(CONFIG["rest"]) as (server, browser):
        driver = browser.driver
        driver.get(server.base_url + "/")
        browser.wait(lambda d: list_version(d) >= 1, "the first load of the user list")
        assert shown_users(driver) == [], f"a fresh server listed users: {shown_users(driver)}"
        assert not driver.find_element(By.ID, "error").is_displayed()

        # A name that is markup must show as text: the page must never parse user data as HTML.
        markup_name = '<img src=x onerror="document.title=\'pwned\'"><b>choi</b>'
        version = wait_for_names(browser, ["kim"], add_user(browser, "kim"))
        version = wait_for_names(browser, ["kim", "lee"], add_user(browser, "lee"))
        version = wait_for_names(browser, ["kim", "lee", markup_name], add_user(browser, markup_name))
        assert driver.find_elements(By.CSS_SELECTOR, "#list img, #list b") == [], "a user name was parsed as HTML"
        assert driver.title != "pwned"
        assert driver.find_element(By.ID, "username").get_attribute("value") == "", "the form was not cleared"
        ids = [user_id for user_id, _ in shown_users(driver)]
        assert len(set(ids)) == 3 and all(re.fullmatch(r"\d+", user_id) for user_id in ids), f"ids: {ids}"

        # Rename lee to park with the inline editor (no prompt()).
        row_for(driver, "lee").find_element(By.CSS_SELECTOR, "button[data-action=edit]").click()
        editor = browser.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#list .user-name-input"), "the editor")[0]
        editor.clear()
        editor.send_keys("park")
        browser.screenshot("rest-editing.png")
        editor.find_element(By.XPATH, "following-sibling::button[@data-action='save']").click()
        version = wait_for_names(browser, ["kim", "park", markup_name], version)

        # Delete kim.
        row_for(driver, "kim").find_element(By.CSS_SELECTOR, "button[data-action=remove]").click()
        version = wait_for_names(browser, ["park", markup_name], version)

        # A real reload: the list comes back from the server, same ids, same order.
        driver.refresh()
        browser.wait(lambda d: list_version(d) >= 1, "the list after the reload")
        assert shown_users(driver) == [(ids[1], "park"), (ids[2], markup_name)], f"after reload: {shown_users(driver)}"
        assert driver.find_element(By.ID, "list").get_attribute("data-count") == "2"
        assert http_get_json(server.base_url + "/users") == {ids[1]: "park", ids[2]: markup_name}
        browser.screenshot("rest-list-after-edits.png")

        # The stylesheet is served and applied (the nav's colour comes only from restFront.css).
        nav = driver.find_element(By.TAG_NAME, "nav")
        assert nav.value_of_css_property("background-color") in ("rgba(45, 106, 79, 1)", "rgb(45, 106, 79)"), \
            f"restFront.css not applied: {nav.value_of_css_property('background-color')}"

        # About and back through the nav.
        driver.find_element(By.LINK_TEXT, "About").click()
        browser.wait(lambda d: "소개 페이지입니다." in browser.body_text(), "the About page")
        assert "사용자 이름을 등록하세요!" in browser.body_text()
        browser.screenshot("rest-about.png")
        driver.find_element(By.LINK_TEXT, "Home").click()
        browser.wait(lambda d: d.find_elements(By.ID, "list") and list_version(d) >= 1, "the Home page")
        assert [name for _, name in shown_users(driver)] == ["park", markup_name]

        # A request that fails shows in the #error box: the server is gone when 삭제 is clicked.
        server.stop()
        row_for(driver, "park").find_element(By.CSS_SELECTOR, "button[data-action=remove]").click()
        error_box = driver.find_element(By.ID, "error")
        browser.wait(lambda d: error_box.is_displayed() and "DELETE" in error_box.text, "the #error box")
        browser.screenshot("rest-error.png")


# --- cookie-server --login and session-server -----------------------------------------------------------------------

def log_in(browser, base_url, name):
    driver = browser.driver
    driver.get(base_url + "/")
    field = browser.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "form[action='/login'] input[name=name]"),
                         "the login form")[0]
    field.send_keys(name)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]").click()
    greeting = f"{name}님 안녕하세요"
    browser.wait(lambda d: browser.body_text() == greeting, f"the greeting {greeting!r}")


def wait_for_login_form(browser, what):
    browser.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "form[action='/login'] input[name=name]"), what)


def only_cookie(driver, name):
    cookies = driver.get_cookies()
    matching = [cookie for cookie in cookies if cookie["name"] == name]
    assert len(matching) == 1, f"expected one {name!r} cookie, the browser has {cookies}"
    return matching[0]


def check_login_cookie(driver, cookie):
    assert cookie.get("httpOnly") is True, f"not HttpOnly: {cookie}"
    assert cookie.get("path") == "/", f"path: {cookie}"
    # Expires = now + 5 minutes (allow for slow machines and second rounding).
    lifetime = cookie.get("expiry", 0) - time.time()
    assert 240 <= lifetime <= 310, f"expires in {lifetime:.0f} s, not about 300: {cookie}"
    assert driver.execute_script("return document.cookie") == "", "page scripts can read the HttpOnly cookie"


def test_cookie_login_sets_an_http_only_name_cookie():
    name = "제로초"
    with Session(CONFIG["cookie"]) as (server, browser):
        driver = browser.driver
        driver.get(server.base_url + "/")
        wait_for_login_form(browser, "the login form")
        assert driver.find_element(By.ID, "name").get_attribute("name") == "name"
        assert "로그인" in driver.find_element(By.CSS_SELECTOR, "button[type=submit]").text
        browser.screenshot("cookie-login-form.png")

        log_in(browser, server.base_url, name)
        cookie = only_cookie(driver, "name")
        assert cookie["value"] == urllib.parse.quote(name, safe="-_.!~*'()"), f"not encodeURIComponent: {cookie}"
        check_login_cookie(driver, cookie)
        browser.screenshot("cookie-greeting.png")

        driver.refresh()
        browser.wait(lambda d: browser.body_text() == f"{name}님 안녕하세요", "the greeting after a reload")

        driver.delete_all_cookies()
        driver.refresh()
        wait_for_login_form(browser, "the login form once the cookie is gone")


def test_session_login_keeps_the_name_on_the_server_and_refuses_tampered_ids():
    name = "이순신"
    with Session(CONFIG["session"]) as (server, browser):
        driver = browser.driver
        log_in(browser, server.base_url, name)
        cookie = only_cookie(driver, "session")
        assert name not in urllib.parse.unquote(cookie["value"]), "the name travels in the cookie"
        check_login_cookie(driver, cookie)
        browser.screenshot("session-greeting.png")

        def replace_session_cookie(value):
            driver.delete_cookie("session")
            driver.add_cookie({"name": "session", "value": value, "path": "/"})
            driver.refresh()

        original = cookie["value"]
        tampered = original[:-1] + ("0" if original[-1] != "0" else "1")
        replace_session_cookie(tampered)
        wait_for_login_form(browser, "the login page for a tampered session id")
        browser.screenshot("session-tampered.png")

        replace_session_cookie("0" * 32)
        wait_for_login_form(browser, "the login page for a guessed session id")

        # The real id still works: it was the tampering that was refused, not the browser.
        replace_session_cookie(original)
        browser.wait(lambda d: browser.body_text() == f"{name}님 안녕하세요", "the greeting with the real id back")

        # Last, so that the seed's session.js (whose ids are Date.now(), easy to guess) fails only here.
        assert re.fullmatch(r"[0-9a-f]{32}", original), f"session id is not 32 random hex characters: {cookie}"


TESTS = [
    test_rest_front_end_adds_edits_deletes_and_reloads,
    test_cookie_login_sets_an_http_only_name_cookie,
    test_session_login_keeps_the_name_on_the_server_and_refuses_tampered_ids,
]


def main(argv):
    parser = argparse.ArgumentParser(description="Real-browser tests of rest-server, cookie-server --login and "
                                                 "session-server.")
    parser.add_argument("--bin", help="folder of the server binaries (default $NETCORE_BIN or .build/debug)")
    parser.add_argument("--rest-cmd", "--server-cmd", dest="rest_cmd",
                        help="command that starts the REST server; it prints its port in the ready line, or takes "
                             "the port that replaces {port} (e.g. \"env PORT={port} node restServer.js\")")
    parser.add_argument("--cookie-cmd", help="command that starts the cookie login server (cookie-server --login)")
    parser.add_argument("--session-cmd", help="command that starts the session server")
    parser.add_argument("--output", help="folder for the screenshots (default Tests/browser/output)")
    parser.add_argument("-k", dest="only", help="run only the tests whose name contains this")
    arguments = parser.parse_args(argv)

    if arguments.bin:
        os.environ["NETCORE_BIN"] = arguments.bin
    CONFIG.update(default_config())
    for key, value in (("rest", arguments.rest_cmd), ("cookie", arguments.cookie_cmd),
                       ("session", arguments.session_cmd)):
        if value:
            CONFIG[key] = shlex.split(value)
    if arguments.output:
        CONFIG["output"] = Path(arguments.output)
    for tool in ("chromium", "chromedriver"):
        if not Path(CONFIG[tool]).exists():
            print(f"FAIL: {tool} not found ({CONFIG[tool]}); run scripts/install-test-deps.sh", file=sys.stderr)
            return 1

    passed = failed = 0
    for test in TESTS:
        if arguments.only and arguments.only not in test.__name__:
            continue
        started = time.monotonic()
        try:
            test()
        except Exception:  # noqa: BLE001 - report every test, whatever it raised
            failed += 1
            print(f"FAIL {test.__name__} ({time.monotonic() - started:.1f} s)")
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print(f"PASS {test.__name__} ({time.monotonic() - started:.1f} s)")
        sys.stdout.flush()
    print(f"screenshots: {CONFIG['output']}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
