#!/usr/bin/env python3
"""End-to-end tests of the real Switchyard window.

The app is driven through tauri-driver and WebKitWebDriver (run this under Xvfb, as
`cargo xtask test` does). Every scenario saves a screenshot in the output folder; a failing
step saves one named FAILED-<step>.png. Usage:

    run_e2e.py --app target/debug/switchyard-app --out tests/e2e/output [--only NAME]
"""

import argparse
import glob
import http.server
import json
import urllib.error
import urllib.request
import threading
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.support.ui import WebDriverWait

def free_port():
    """A port nobody listens on, so a driver left over from another run is never reused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DRIVER_PORT = free_port()
TIMEOUT = 20
COMMAND_TIMEOUT = 60


class Failure(Exception):
    pass


def wait_port(port, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise Failure(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


class App:
    """One app session with its own data folder."""

    def __init__(self, app_path, out_dir, data_dir):
        self.out_dir = out_dir
        self.data_dir = data_dir
        self.webhook_port = None
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {"application": app_path, "args": ["--data-dir", data_dir]})
        # Every WebDriver command gets a deadline: a command that never returns becomes a
        # failure with a screenshot rather than a hung test run.
        config = ClientConfig(remote_server_addr=f"http://127.0.0.1:{DRIVER_PORT}", timeout=COMMAND_TIMEOUT)
        # tauri-driver forwards to WebKitWebDriver, which it starts itself: its first session
        # request can come before WebKitWebDriver listens (the connection is then dropped).
        for attempt in range(3):
            try:
                self.driver = webdriver.Remote(command_executor=config.remote_server_addr, options=options, client_config=config)
                break
            except Exception:  # noqa: BLE001 - retried, then raised
                if attempt == 2:
                    raise
                time.sleep(3)
        self.driver.set_window_size(1360, 860)

    def quit(self):
        try:
            self.driver.quit()
        except WebDriverException:
            pass

    # Finding and waiting

    def wait(self, condition, what, timeout=TIMEOUT):
        def check(_):
            try:
                return condition()
            except (StaleElementReferenceException, WebDriverException):
                return False

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(check)
        except Exception as e:  # noqa: BLE001 - any timeout becomes a readable failure
            raise Failure(f"timed out waiting for {what}") from e

    def find(self, css):
        return self.wait(lambda: self.driver.find_element(By.CSS_SELECTOR, css), css)

    def find_all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def by_test_id(self, test_id):
        return self.find(f'[data-testid="{test_id}"]')

    def button(self, text):
        xpath = f'//button[normalize-space(.)="{text}"]'
        return self.wait(lambda: self.driver.find_element(By.XPATH, xpath), f'button "{text}"')

    def node(self, name):
        return self.by_test_id(f"node-{name}")

    def node_names(self):
        return [e.get_attribute("data-testid")[5:] for e in self.find_all('.react-flow__node [data-testid^="node-"]')]

    def gone(self, css):
        self.wait(lambda: len(self.find_all(css)) == 0, f"{css} to disappear")

    def rect(self, element):
        """The element's box in viewport coordinates (WebKitWebDriver's own rect call is picky)."""
        return self.driver.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, height: r.height};",
            element,
        )

    def text(self, element):
        """The element's text (textContent; WebKitWebDriver's text call is picky too)."""
        return self.driver.execute_script("return arguments[0].textContent;", element) or ""

    # Input

    def actions(self):
        return ActionChains(self.driver)

    def keys(self, *keys, ctrl=False, shift=False):
        chain = self.actions()
        if ctrl:
            chain.key_down(Keys.CONTROL)
        if shift:
            chain.key_down(Keys.SHIFT)
        for k in keys:
            chain.send_keys(k)
        if shift:
            chain.key_up(Keys.SHIFT)
        if ctrl:
            chain.key_up(Keys.CONTROL)
        chain.perform()
        # Release every key in the driver's input state too, or later typing keeps a
        # phantom modifier.
        chain.reset_actions()

    def click_empty_canvas(self):
        pane = self.find(".react-flow__pane")
        r = self.rect(pane)
        self.actions().move_to_element_with_offset(pane, -r["width"] / 2 + 30, r["height"] / 2 - 30).click().perform()

    def drag_from_palette(self, node_type, to_x, to_y):
        """Drags a palette entry to a point of the window (viewport coordinates)."""
        item = self.by_test_id(f"palette-{node_type}")
        # The palette scrolls: bring the entry into view first.
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", item)
        r = self.rect(item)
        start_x, start_y = r["x"] + r["width"] / 2, r["y"] + r["height"] / 2
        chain = self.actions().move_to_element(item).click_and_hold().move_by_offset(8, 4)
        x, y = start_x + 8, start_y + 4
        # Several steps, like a hand moving the mouse.
        for i in range(8):
            dx, dy = round((to_x - x) / (8 - i)), round((to_y - y) / (8 - i))
            chain.move_by_offset(dx, dy)
            x, y = x + dx, y + dy
        chain.release().perform()

    def connect(self, source_node, output, target_node, input_name="main"):
        source = self.node(source_node).find_element(By.CSS_SELECTOR, f'[data-testid="out-{output}"]')
        target = self.node(target_node).find_element(By.CSS_SELECTOR, f'[data-testid="in-{input_name}"]')
        self.actions().move_to_element(source).click_and_hold().move_by_offset(20, 10).move_to_element(target).release().perform()

    def context_menu(self, element):
        """Right-clicks an element. The contextmenu event is dispatched by script: a right
        click through WebKitWebDriver leaves its keyboard state broken (capitals typed
        afterwards come out in lower case)."""
        self.driver.execute_script(
            """const r = arguments[0].getBoundingClientRect();
            arguments[0].dispatchEvent(new MouseEvent('contextmenu', {bubbles: true, cancelable: true, button: 2,
              clientX: r.x + r.width / 2, clientY: r.y + r.height / 2}));""",
            element,
        )

    def edge_count(self):
        return len(self.find_all(".react-flow__edge"))

    def type_into(self, element, text, clear=True):
        if clear:
            # Select with script, delete with a real key: modifier keys sent through
            # WebKitWebDriver leave the case of later letters confused.
            self.driver.execute_script("arguments[0].select();", element)
            element.send_keys(Keys.BACK_SPACE)
        element.send_keys(text)
        if clear:
            value = element.get_attribute("value")
            if value != text:
                raise Failure(f'typed "{text}" but the field holds "{value}"')

    def screenshot(self, name):
        path = os.path.join(self.out_dir, f"{name}.png")
        self.driver.save_screenshot(path)
        return path

    def select(self, element, value):
        """Sets a React-controlled <select> the way a user's choice does."""
        self.driver.execute_script(
            "const s = arguments[0]; const set = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set;"
            "set.call(s, arguments[1]); s.dispatchEvent(new Event('change', {bubbles: true}));",
            element,
            value,
        )

    def drop_file(self, path):
        """Drops a file on the window as the OS would (a drag-drop event from the shell)."""
        self.driver.execute_script(
            "return window.__TAURI_INTERNALS__.invoke('plugin:event|emit', "
            "{event: 'tauri://drag-drop', payload: {paths: [arguments[0]], position: {x: 200, y: 200}}});",
            path,
        )

    def dismiss_toasts(self):
        """Closes every message (errors stay until closed), so a scenario starts clean."""
        self.driver.execute_script(
            "document.querySelectorAll('[data-testid=\"toast\"] button[aria-label=\"Dismiss\"]').forEach(b => b.click());"
        )

    def toast_contains(self, text):
        self.wait(lambda: any(text in self.text(t) for t in self.find_all('[data-testid="toast"]')), f'a message containing "{text}"')


# Scenarios. Each builds on the state the previous one left.


def new_workflow(app, name):
    """Makes a new workflow from the workflows page, named `name`; its editor opens."""
    app.button("New workflow").click()
    name_input = app.find('[role="dialog"] input')
    name_input.send_keys(name)
    name_input.send_keys(Keys.ENTER)


def leave_editor(app):
    """Back to the pages from the editor, if it is open (scenarios run alone start anywhere)."""
    back = app.driver.find_elements(By.XPATH, '//button[normalize-space(.)="← Workflows"]')
    if back:
        back[0].click()
    app.by_test_id("nav-workflows")


def first_run(app):
    """A new user's empty workflows page: the examples to start from, first steps, and the
    guide shipped with the app (Help), whose pages link to each other."""
    app.by_test_id("first-steps")
    app.wait(lambda: app.find_all(".template-card"), "the examples to start from")
    app.by_test_id("open-guide").click()
    text = app.by_test_id("help-text")
    app.wait(lambda: "The desktop app" in app.text(text) and "Keyboard" in app.text(text), "the guide's first page")
    app.screenshot("00-help")
    app.by_test_id("help-ai").click()
    app.wait(lambda: "AI Orchestrate" in app.text(text), "the AI page of the guide")
    app.by_test_id("nav-workflows").click()
    app.by_test_id("new-workflow")


def create_by_dragging(app):
    new_workflow(app, "E2E orders")
    start = app.node("Start")
    r = app.rect(start)
    app.drag_from_palette("data.set", r["x"] + r["width"] + 140, r["y"] + r["height"] / 2)
    app.node("Set")
    r = app.rect(app.node("Set"))
    app.drag_from_palette("flow.wait", r["x"] + r["width"] + 140, r["y"] + r["height"] / 2)
    app.node("Wait")
    if sorted(app.node_names()) != ["Set", "Start", "Wait"]:
        raise Failure(f"nodes on the canvas: {app.node_names()}")
    app.connect("Start", "main", "Set")
    app.wait(lambda: app.edge_count() == 1, "the first connection")
    app.connect("Set", "main", "Wait")
    app.wait(lambda: app.edge_count() == 2, "the second connection")
    app.by_test_id("dirty")


def set_parameters(app):
    app.actions().double_click(app.node("Set")).perform()
    panel = app.by_test_id("node-panel")
    app.button("+ Add field").click()
    name = app.wait(lambda: panel.find_element(By.CSS_SELECTOR, '[aria-label="Name"]'), "the field name input")
    app.type_into(name, "greeting")
    value = panel.find_element(By.CSS_SELECTOR, '[aria-label="Value"]')
    app.type_into(value, 'Hello {{ json.name ?? "you" }}')
    app.wait(lambda: "Hello you" in app.text(app.by_test_id("expression-preview")), "the live expression preview")
    app.screenshot("02-node-form")
    panel.find_element(By.CSS_SELECTOR, '[aria-label="Close node panel"]').click()
    app.gone('[data-testid="node-panel"]')
    app.actions().double_click(app.node("Wait")).perform()
    amount = app.find('[data-testid="node-panel"] [aria-label="Amount"]')
    app.type_into(amount, "2")
    app.keys(Keys.ESCAPE)
    app.gone('[data-testid="node-panel"]')


def run_and_watch(app):
    app.by_test_id("run").click()
    app.wait(lambda: app.node("Wait").get_attribute("data-status") == "running", "the Wait node to show it is running")
    if app.node("Set").get_attribute("data-status") != "success":
        raise Failure("Set finished before Wait started, but it is not shown as succeeded")
    app.screenshot("03-running")
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the run to succeed", timeout=30)
    badge = app.text(app.node("Set").find_element(By.CSS_SELECTOR, '[data-testid="node-badge"]'))
    if "1 item" not in badge:
        raise Failure(f'the Set node says "{badge}", expected 1 item')
    app.node("Set").click()
    app.wait(lambda: "greeting" in app.text(app.by_test_id("items-table")) and "Hello you" in app.text(app.by_test_id("items-table")), "the output items in the inspector")
    app.button("JSON").click()
    app.wait(lambda: '"greeting": "Hello you"' in app.text(app.by_test_id("items-json")), "the items as JSON")
    app.screenshot("04-run-finished")


def save(app):
    app.keys("s", ctrl=True)
    app.toast_contains("Saved")
    app.gone('[data-testid="dirty"]')


def undo_redo(app):
    app.node("Wait").click()
    app.keys(Keys.DELETE)
    app.gone('[data-testid="node-Wait"]')
    app.wait(lambda: app.edge_count() == 1, "the Wait node's wire to go too")
    app.click_empty_canvas()
    app.keys("z", ctrl=True)
    app.node("Wait")
    app.wait(lambda: app.edge_count() == 2, "the wire to come back")
    app.keys("z", ctrl=True, shift=True)
    app.gone('[data-testid="node-Wait"]')
    app.screenshot("05-redo-deleted-again")
    app.keys("z", ctrl=True)
    app.node("Wait")
    app.gone('[data-testid="dirty"]')


def copy_paste_and_menu(app):
    app.node("Set").click()
    app.keys("c", ctrl=True)
    app.keys("v", ctrl=True)
    app.node("Set 2")
    app.screenshot("06-pasted")
    app.keys("z", ctrl=True)
    app.gone('[data-testid="node-Set 2"]')
    app.context_menu(app.node("Wait"))
    app.find('[role="menu"]')
    app.button("Disable").click()
    app.wait(lambda: "disabled" in app.node("Wait").get_attribute("class"), "the Wait node to be disabled")
    app.keys("z", ctrl=True)
    app.wait(lambda: "disabled" not in app.node("Wait").get_attribute("class"), "undo to enable it again")


def history(app):
    app.by_test_id("history-button").click()
    app.wait(lambda: len(app.find_all('[data-testid="history-row"]')) >= 1, "a run in the history")
    app.find_all('[data-testid="history-row"]')[0].click()
    app.by_test_id("viewing-banner")
    app.wait(lambda: app.node("Set").get_attribute("data-status") == "success", "the past run's states on the canvas")
    app.screenshot("07-past-run")
    app.button("Back to editing").click()
    app.gone('[data-testid="viewing-banner"]')


def export_and_import(app):
    path = os.path.join(app.data_dir, "exported-orders.json")
    app.driver.execute_script("window.__SWITCHYARD_TEST_DIALOG_PATHS__ = [arguments[0]]", path)
    app.by_test_id("export").click()
    app.toast_contains("Exported to")
    with open(path, encoding="utf-8") as f:
        exported = json.load(f)
    names = sorted(n["name"] for n in exported["nodes"])
    if exported["switchyard"] != 1 or names != ["Set", "Start", "Wait"]:
        raise Failure(f"the exported file is not the workflow: {exported}")
    if exported["nodes"][1]["parameters"]["assignments"][0]["name"] != "greeting":
        raise Failure("the exported file lost the Set node's parameters")
    app.driver.execute_script("window.__SWITCHYARD_TEST_DIALOG_PATHS__ = [arguments[0]]", path)
    app.button("Import…").click()
    # An imported file gets a new id (whoever has it knows its id).
    app.toast_contains("Imported")
    app.node("Wait")
    app.screenshot("08-imported")
    app.button("← Workflows").click()
    app.wait(lambda: len(app.find_all('[data-testid="workflow-row"]')) == 2, "two workflows in the list")


def workflows_list(app):
    rows = app.find_all('[data-testid="workflow-row"]')
    rows[0].find_element(By.XPATH, './/button[normalize-space(.)="Rename"]').click()
    field = app.find('[role="dialog"] input')
    app.type_into(field, "E2E renamed")
    field.send_keys(Keys.ENTER)
    app.wait(lambda: "E2E renamed" in app.text(app.find('[data-testid="workflow-row"]')), "the renamed workflow first")
    rows = app.find_all('[data-testid="workflow-row"]')
    rows[-1].find_element(By.XPATH, './/button[normalize-space(.)="Delete"]').click()
    dialog = app.find('[role="dialog"]')
    dialog.find_element(By.XPATH, './/button[normalize-space(.)="Delete"]').click()
    app.wait(lambda: len(app.find_all('[data-testid="workflow-row"]')) == 1, "one workflow left")
    app.screenshot("09-workflows")


def drop_file(app):
    """A workflow file dropped on the window is imported and opened. The drop itself comes
    through Tauri's drag-drop event (WebDriver cannot drag files in from outside)."""
    path = os.path.join(app.data_dir, "exported-orders.json")
    app.drop_file(path)
    app.toast_contains("Imported")
    app.node("Wait")
    app.button("← Workflows").click()
    app.wait(lambda: len(app.find_all('[data-testid="workflow-row"]')) == 2, "the dropped workflow in the list")


E2E_TOKEN = "e2e-secret-token-5b1d"
E2E_PASSWORD = "e2e master password"


class ApiServer:
    """An API on 127.0.0.1 that wants one bearer token: 200 with a user, else 401."""

    def __init__(self):
        self.authorizations = []
        self.flaky_calls = 0
        self.counted = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def reply(self, status, value):
                body = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802 - the http.server API
                if self.path.startswith("/count/"):
                    # Counts calls per path; "/count/broken-once" fails the first time.
                    outer.counted[self.path] = outer.counted.get(self.path, 0) + 1
                    ok = not (self.path == "/count/broken-once" and outer.counted[self.path] == 1)
                    return self.reply(200 if ok else 503, {"calls": outer.counted[self.path]})
                if self.path.startswith("/flaky"):
                    # Two 503s, then an answer: for the retry policy.
                    outer.flaky_calls += 1
                    ok = outer.flaky_calls > 2
                    return self.reply(200 if ok else 503, {"ok": True, "calls": outer.flaky_calls} if ok else {"error": "busy"})
                auth = self.headers.get("Authorization")
                outer.authorizations.append(auth)
                ok = auth == f"Bearer {E2E_TOKEN}"
                self.reply(200 if ok else 401, {"user": "e2e-user", "path": self.path} if ok else {"error": "unauthorized"})

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


API = ApiServer()


def account_row(app, label):
    return app.by_test_id(f"account-{label}")


def row_button(row, text):
    return row.find_element(By.XPATH, f'.//button[normalize-space(.)="{text}"]')


def connections(app):
    """The vault (a master password: this run has no keyring) and an account: add, test,
    rename; its secret is never shown again."""
    app.by_test_id("nav-connections").click()
    app.by_test_id("vault-gate")
    app.type_into(app.find("#vault-password"), E2E_PASSWORD)
    app.type_into(app.find("#vault-password-repeat"), E2E_PASSWORD)
    app.button("Create the vault").click()
    app.by_test_id("vault-bar")
    # A new vault offers its recovery key: made, shown once, closed only once kept.
    app.wait(lambda: "Make a recovery key now?" in app.text(app.find('[role="dialog"]')), "the recovery key offer")
    app.button("Make one").click()
    app.type_into(app.find('[role="dialog"] input'), E2E_PASSWORD)
    app.button("Next").click()
    kit = app.by_test_id("recovery-kit")
    key = app.text(app.by_test_id("recovery-key"))
    if len(key) != 44 or key.count("-") != 8:
        raise Failure(f"the recovery key reads {key!r}")
    if not app.by_test_id("recovery-done").get_attribute("disabled"):
        raise Failure("the kit closes before it was kept")
    app.screenshot("11-recovery-kit")
    app.by_test_id("recovery-kept").click()
    app.by_test_id("recovery-done").click()
    app.gone('[data-testid="recovery-kit"]')
    app.wait(lambda: "Recovery key made" in app.text(app.by_test_id("recovery-status")), "the vault bar to say a recovery key exists")
    if key in app.driver.page_source:
        raise Failure("the recovery key is still in the page")
    app.by_test_id("add-account").click()
    form = app.by_test_id("account-form")
    app.select(form.find_element(By.CSS_SELECTOR, "#account-type"), "http.bearer")
    app.wait(lambda: form.find_element(By.CSS_SELECTOR, "#account-field-token"), "the token field")
    app.type_into(form.find_element(By.CSS_SELECTOR, "#account-label"), "e2e api")
    token = form.find_element(By.CSS_SELECTOR, "#account-field-token")
    if token.get_attribute("type") != "password":
        raise Failure("the token field shows its text")
    app.type_into(token, E2E_TOKEN)
    app.type_into(form.find_element(By.CSS_SELECTOR, "#account-field-testUrl"), f"{API.url}/me")
    app.screenshot("11-add-account")
    app.button("Add").click()
    row = account_row(app, "e2e api")
    app.wait(lambda: "default" in app.text(row) and "Ready" in app.text(row), "the new default account")
    row_button(row, "Test").click()
    app.toast_contains("200")
    app.wait(lambda: "✓" in app.text(account_row(app, "e2e api")), "the test result on the row")
    if API.authorizations[-1] != f"Bearer {E2E_TOKEN}":
        raise Failure(f"the test request sent {API.authorizations[-1]!r}")
    row_button(account_row(app, "e2e api"), "Rename").click()
    field = app.find('[role="dialog"] input')
    app.type_into(field, "e2e main")
    field.send_keys(Keys.ENTER)
    row = account_row(app, "e2e main")
    row_button(row, "Edit").click()
    form = app.by_test_id("account-form")
    if form.find_element(By.CSS_SELECTOR, "#account-field-token").get_attribute("value") != "":
        raise Failure("the edit form shows the stored token")
    app.button("Cancel").click()
    if E2E_TOKEN in app.driver.page_source:
        raise Failure("the token is in the page")


def account_in_workflow(app):
    """A workflow whose HTTP node authenticates with the account chosen in its node panel,
    then runs a program: the trust review lists both before anything runs."""
    path = os.path.join(app.data_dir, "authenticated.json")
    stamp = os.path.join(app.data_dir, "e2e-stamp")
    workflow = {
        "switchyard": 1,
        "id": "0193a1c0-0000-7000-8000-0000000000e2",
        "name": "E2E authenticated",
        "description": "",
        "nodes": [
            {"id": "start", "name": "Start", "type": "trigger.manual", "version": 1, "position": [0, 0], "parameters": {}},
            {
                "id": "me",
                "name": "Who am I",
                "type": "http.request",
                "version": 1,
                "position": [300, 0],
                "parameters": {"method": "GET", "url": f"{API.url}/me"},
                "credentials": {"auth": {"connection": "http.bearer", "account": "someone else"}},
            },
            {
                "id": "stamp",
                "name": "Stamp",
                "type": "shell.exec",
                "version": 1,
                "position": [600, 0],
                "parameters": {"command": "touch", "arguments": [{"value": stamp}]},
            },
        ],
        "connections": [{"from": {"node": "start"}, "to": {"node": "me"}}, {"from": {"node": "me"}, "to": {"node": "stamp"}}],
        "settings": {"timezone": "UTC", "timeoutSeconds": 60, "errorWorkflow": None},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(workflow, f)
    app.by_test_id("nav-workflows").click()
    app.drop_file(path)
    app.toast_contains("someone else")
    # An imported workflow that uses accounts is reviewed first: it names the account and
    # the host its token would go to, and runs nothing with it until trusted.
    dialog = app.by_test_id("trust-dialog")
    app.wait(lambda: "authenticated.json" in app.text(dialog) and "someone else" in app.text(dialog), "the trust review")
    local = app.text(app.by_test_id("trust-local"))
    if "runs touch" not in local or "Stamp" not in local:
        raise Failure(f"the review does not list the program: {local!r}")
    app.screenshot("12-trust-review")
    app.by_test_id("trust-confirm").click()
    app.gone('[data-testid="trust-dialog"]')
    app.gone('[data-testid="trust-banner"]')
    app.actions().double_click(app.node("Who am I")).perform()
    panel = app.by_test_id("node-panel")
    app.wait(lambda: "“someone else”" in app.text(panel.find_element(By.CSS_SELECTOR, '[data-testid="credential-problem"]')), "the missing account named")
    select = panel.find_element(By.CSS_SELECTOR, "#credential-auth")
    value = json.dumps(["http.bearer", "e2e main"], separators=(",", ":"))
    app.select(select, value)
    app.gone('[data-testid="credential-problem"]')
    app.screenshot("12-credential-picker")
    app.keys(Keys.ESCAPE)
    app.gone('[data-testid="node-panel"]')
    if os.path.exists(stamp):
        raise Failure("the program ran before the run")
    app.by_test_id("run").click()
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the authenticated run to succeed", timeout=30)
    if not os.path.exists(stamp):
        raise Failure("the approved program did not run")
    app.node("Who am I").click()
    app.wait(lambda: "e2e-user" in app.text(app.by_test_id("items-table")), "the API's answer in the inspector")
    app.keys("s", ctrl=True)
    app.toast_contains("Saved")
    # The secret is in none of the app's files: only sealed in the vault.
    for file in glob.glob(os.path.join(app.data_dir, "**", "*"), recursive=True):
        if os.path.isfile(file) and not file.endswith(".json"):
            with open(file, "rb") as f:
                if E2E_TOKEN.encode() in f.read():
                    raise Failure(f"the token is in plain text in {file}")


def retry_settings(app):
    """A retry policy set in the node panel: the node fails twice, then succeeds."""
    app.actions().double_click(app.node("Who am I")).perform()
    panel = app.by_test_id("node-panel")
    app.type_into(panel.find_element(By.CSS_SELECTOR, '[aria-label="URL"]'), f"{API.url}/flaky")
    panel.find_element(By.XPATH, './/div[@class="tabs"]/button[normalize-space(.)="Settings"]').click()
    app.wait(lambda: panel.find_element(By.CSS_SELECTOR, "#retry-enabled"), "the node's settings tab").click()
    app.wait(lambda: panel.find_element(By.CSS_SELECTOR, "#retry-backoff"), "the retry form")
    app.select(panel.find_element(By.CSS_SELECTOR, "#retry-backoff"), "fixed")
    app.type_into(panel.find_element(By.CSS_SELECTOR, "#retry-initial"), "300")
    app.wait(lambda: "Waits: 300 ms, 300 ms" in app.text(app.by_test_id("retry-plan")), "the planned waits")
    app.screenshot("13-retry-settings")
    app.keys(Keys.ESCAPE)
    app.gone('[data-testid="node-panel"]')
    app.by_test_id("run").click()
    # The status still reads "success" from the previous run until this one starts: wait for the
    # node's own badge, which only this run can give "2 retries".
    badge = '[data-testid="node-badge"]'
    app.wait(lambda: "2 retries" in app.text(app.node("Who am I").find_element(By.CSS_SELECTOR, badge)), "the node to succeed after 2 retries", timeout=30)
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the run to succeed after retries", timeout=30)
    if API.flaky_calls != 3:
        raise Failure(f"the server saw {API.flaky_calls} calls, expected 3")


def local_files(app):
    """Read Files (CSV) → Convert → Filter → Convert → Write File, and Read Files of a PDF: the review lists what it
    reads and writes; after the run the written file is previewed in the inspector's Files
    view and saved through the (answered) save dialog."""
    folder = os.path.join(app.home, "e2e-orders")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "orders.csv"), "w", encoding="utf-8") as f:
        f.write('order,customer,amount\nA-1,Ada,1200\nA-2,Lin,80\nA-3,"Doe, Jane",4000\n')
    target = os.path.join(folder, "large.csv")
    with open(os.path.join(folder, "invoice 42.pdf"), "wb") as f:
        f.write(one_page_pdf("Invoice 42"))
    path = os.path.join(app.data_dir, "local-files.json")
    node = lambda id, name, type, x, params, y=0: {  # noqa: E731 - a table of nodes reads better
        "id": id, "name": name, "type": type, "version": 1, "position": [x, y], "parameters": params}
    workflow = {
        "switchyard": 1,
        "id": "0193a1c0-0000-7000-8000-0000000000f1",
        "name": "E2E local files",
        "description": "",
        "nodes": [
            node("start", "Start", "trigger.manual", 0, {}),
            node("read", "Read CSV", "file.read", 220, {"path": os.path.join(folder, "*.csv"), "format": "file"}),
            node("rows", "Rows", "data.convert", 440, {"format": "csv"}),
            node("large", "Large", "data.filter", 660, {"conditions": [{"left": "{{ json.amount }}", "operator": "gt", "right": "1000"}]}),
            node("csv", "As CSV", "data.convert", 880, {"operation": "toFile", "format": "csv", "fileName": "large.csv"}),
            node("write", "Write File", "file.write", 1100, {"path": target, "content": "file"}),
            node("pdf", "Read PDF", "file.read", 220, {"path": os.path.join(folder, "*.pdf"), "format": "file"}, 160),
        ],
        "connections": [
            {"from": {"node": a}, "to": {"node": b}}
            for a, b in [("start", "read"), ("read", "rows"), ("rows", "large"), ("large", "csv"), ("csv", "write"), ("start", "pdf")]
        ],
        "settings": {"timezone": "UTC", "timeoutSeconds": 60, "errorWorkflow": None},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(workflow, f)
    app.by_test_id("nav-workflows").click()
    app.drop_file(path)
    local = app.text(app.by_test_id("trust-local"))
    if "orders" not in local or "large.csv" not in local:
        raise Failure(f"the review does not list the paths: {local!r}")
    app.by_test_id("trust-confirm").click()
    app.gone('[data-testid="trust-dialog"]')
    app.by_test_id("run").click()
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the local-files run to succeed", timeout=30)
    with open(target, encoding="utf-8") as f:
        written = f.read()
    if written != 'order,customer,amount\nA-1,Ada,1200\nA-3,"Doe, Jane",4000\n':
        raise Failure(f"the written file is {written!r}")
    app.node("As CSV").click()
    app.by_test_id("inspector-files").click()
    row = app.by_test_id("file-row")
    if "large.csv" not in app.text(row) or "text/csv" not in app.text(row):
        raise Failure(f"the files view shows {app.text(row)!r}")
    app.button("Preview").click()
    app.wait(lambda: "Doe, Jane" in app.text(app.by_test_id("file-preview")), "the file's preview")
    app.screenshot("18-file-preview")
    saved = os.path.join(folder, "saved copy.csv")
    app.driver.execute_script("window.__SWITCHYARD_TEST_DIALOG_PATHS__ = [arguments[0]]", saved)
    app.by_test_id("file-save").click()
    app.toast_contains("Saved large.csv")
    with open(saved, encoding="utf-8") as f:
        if f.read() != written:
            raise Failure("the saved copy differs from the written file")
    # A PDF's first page is drawn in the window (pdf.js into a canvas): its blue box shows.
    app.node("Read PDF").click()
    app.by_test_id("inspector-files").click()
    app.wait(lambda: "invoice 42.pdf" in app.text(app.by_test_id("file-row")), "the PDF in the files view")
    app.button("Preview").click()
    app.wait(
        lambda: app.by_test_id("pdf-preview").get_attribute("data-status") in ("shown", "failed"),
        "the PDF's first page to be drawn",
        timeout=30,
    )
    if app.by_test_id("pdf-preview").get_attribute("data-status") != "shown":
        raise Failure(f"the PDF preview failed: {app.text(app.by_test_id('pdf-preview'))!r}")
    blue = app.driver.execute_script(
        "const c = document.querySelector('[data-testid=\"pdf-page\"]');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
        "for (let i = 0; i < d.length; i += 4) if (d[i] < 40 && Math.abs(d[i + 1] - 102) < 30 && Math.abs(d[i + 2] - 204) < 30) n++;"
        "return [n, c.width * c.height];"
    )
    if blue[0] < blue[1] * 0.02:
        raise Failure(f"the PDF page shows {blue[0]} of {blue[1]} pixels in its box's blue")
    if "page 1 of 1" not in app.text(app.by_test_id("pdf-preview")):
        raise Failure(f"the PDF preview says {app.text(app.by_test_id('pdf-preview'))!r}")
    app.driver.execute_script("const c = document.querySelector('.inspector .content'); c.scrollTop = c.scrollHeight;")
    app.screenshot("18-pdf-preview")


def one_page_pdf(text):
    """A one-page PDF (A5) with a blue box and `text` in Helvetica, its cross-reference table
    written with real offsets."""
    content = f"0 0.4 0.8 rg 40 380 340 120 re f 0 0 0 rg BT /F1 32 Tf 50 300 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 595] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def settings_page(app):
    """The Settings page shows the breakers the last runs used, and saves a change."""
    app.keys("s", ctrl=True)
    app.toast_contains("Saved")
    app.button("← Workflows").click()
    app.by_test_id("nav-settings").click()
    app.wait(lambda: any("127.0.0.1" in app.text(r) for r in app.find_all('[data-testid="breaker-row"]')), "the test server's breaker")
    row = next(r for r in app.find_all('[data-testid="breaker-row"]') if "127.0.0.1" in app.text(r))
    if "closed" not in app.text(row):
        raise Failure(f"the breaker after a successful retry reads {app.text(row)!r}")
    app.type_into(app.find("#set-threshold"), "3")
    app.by_test_id("settings-save").click()
    app.toast_contains("Settings saved")
    # Backups: one now, while the app runs; it is listed with its size.
    section = app.by_test_id("backup-settings")
    app.driver.execute_script("arguments[0].scrollIntoView()", section)
    app.by_test_id("backup-now").click()
    app.toast_contains("Backup written")
    app.wait(lambda: len(app.find_all('[data-testid="backup-row"]')) == 1, "the new backup in the list")
    row = app.text(app.find('[data-testid="backup-row"]'))
    if "switchyard-backup-" not in row or "KiB" not in row and "MiB" not in row:
        raise Failure(f"the backup row reads {row!r}")
    app.screenshot("14-backups")


def post_json(url, body):
    """POSTs JSON from outside the app (as a webhook sender would): (status, parsed body)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


ORDER_HOOK = {
    "switchyard": 1,
    "id": "e2e-order-hook",
    "name": "Order hook",
    "nodes": [
        {"id": "hook", "name": "Hook", "type": "trigger.webhook", "position": [0, 0], "parameters": {"path": "orders", "responseMode": "lastNode"}},
        {
            "id": "total",
            "name": "Total",
            "type": "data.set",
            "position": [260, 0],
            "parameters": {
                "assignments": [{"name": "order", "value": "{{ json.body.id }}"}, {"name": "total", "value": "{{ json.body.qty * json.body.price }}"}],
                "keep": "none",
            },
        },
    ],
    "connections": [{"from": {"node": "hook"}, "to": {"node": "total"}}],
}


def webhooks(app):
    """A Webhook workflow: a test event from the editor, then active on its own port with
    deliveries and a sample payload on the Webhooks page."""
    port = free_port()
    app.webhook_port = port
    app.type_into(app.find("#set-port"), str(port))
    app.by_test_id("settings-save").click()
    app.toast_contains("Settings saved")
    path = os.path.join(app.data_dir, "order-hook.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(ORDER_HOOK, f)
    app.drop_file(path)
    # Dropped, it got a new id (the file's is known to whoever has the file): its URLs use it,
    # and the toast says so.
    app.toast_contains("webhook URLs are new")
    app.node("Hook")
    app.by_test_id("listen-test").click()
    test_url = app.text(app.by_test_id("test-url"))
    match = re.fullmatch(rf"http://127\.0\.0\.1:{port}/webhook-test/([A-Za-z0-9_-]+)/orders", test_url)
    if not match or match.group(1) == "e2e-order-hook":
        raise Failure(f"the test URL is {test_url!r}")
    hook_id = match.group(1)
    app.screenshot("15-listening")
    status, body = post_json(test_url, {"id": "T-1", "qty": 2, "price": 3})
    if status != 200 or body != {"order": "T-1", "total": 6}:
        raise Failure(f"the test event got {status} {body}")
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the test run on the canvas")
    app.gone('[data-testid="listening"]')
    app.screenshot("15-test-event")
    app.by_test_id("editor-active").click()
    app.toast_contains("is active")
    app.button("← Workflows").click()
    app.wait(lambda: len(app.find_all('[data-testid="active-badge"]')) == 1, "the active badge in the list")
    app.by_test_id("nav-webhooks").click()
    url = app.text(app.by_test_id("endpoint-url"))
    if url != f"http://127.0.0.1:{port}/webhook/{hook_id}/orders":
        raise Failure(f"the endpoint URL is {url!r}")
    app.wait(lambda: "Listening on" in app.text(app.by_test_id("listener-status")), "the listener status")
    status, body = post_json(url, {"id": "A-17", "qty": 3, "price": 4.5})
    if status != 200 or body != {"order": "A-17", "total": 13.5}:
        raise Failure(f"the webhook got {status} {body}")
    app.by_test_id("endpoint-details").click()
    app.wait(lambda: any("200" in app.text(r) for r in app.find_all('[data-testid="delivery-row"]')), "the delivery in the log")
    sample = app.by_test_id("sample-body")
    app.driver.execute_script(
        "const s = arguments[0]; const set = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set;"
        "set.call(s, arguments[1]); s.dispatchEvent(new Event('input', {bubbles: true}));",
        sample,
        json.dumps({"id": "S-1", "qty": 2, "price": 5}),
    )
    app.by_test_id("send-sample").click()
    app.wait(lambda: '"total":10' in app.text(app.by_test_id("sample-result")), "the sample's answer")
    app.wait(lambda: len(app.find_all('[data-testid="delivery-row"]')) >= 3, "three deliveries (test, request, sample)")


SLOW_HOOK = {
    "switchyard": 1,
    "id": "e2e-slow-hook",
    "name": "Slow hook",
    "nodes": [
        {"id": "hook", "name": "Hook", "type": "trigger.webhook", "position": [0, 0], "parameters": {"path": "slow", "responseMode": "immediately"}},
        {"id": "wait", "name": "Wait", "type": "flow.wait", "position": [260, 0], "parameters": {"amount": 4, "unit": "seconds"}},
    ],
    "connections": [{"from": {"node": "hook"}, "to": {"node": "wait"}}],
}


def api_call(app, command, payload):
    """Calls the app's API from the page, as the UI does."""
    return app.driver.execute_script(
        "return window.__TAURI_INTERNALS__.invoke('api', {command: arguments[0], payload: arguments[1]});", command, payload
    )


def dashboard(app):
    """The dashboard shows a run while it goes (screenshot), then the finished numbers per
    workflow, live and from the stored rollups."""
    api_call(app, "workflow_import", {"text": json.dumps(SLOW_HOOK), "keepId": True})
    api_call(app, "workflow_activate", {"id": "e2e-slow-hook", "active": True})
    app.by_test_id("nav-dashboard").click()
    app.wait(lambda: any("Order hook" in app.text(r) for r in app.find_all('[data-testid="workflow-metrics-row"]')), "the webhook runs of the last scenario")
    status, body = post_json(f"http://127.0.0.1:{app.webhook_port}/webhook/e2e-slow-hook/slow", {"n": 1})
    if status != 202:
        raise Failure(f"the slow hook answered {status} {body}")
    app.wait(lambda: app.text(app.by_test_id("stat-active")).startswith("1"), "the dashboard to show the run in progress")
    app.wait(lambda: app.text(app.by_test_id("queue-active")) == "1", "the jobs panel to show it running")
    app.screenshot("16-dashboard-live")
    row = lambda name: next((r for r in app.find_all('[data-testid="workflow-metrics-row"]') if name in app.text(r)), None)  # noqa: E731
    app.wait(lambda: row("Slow hook") is not None and "100 %" in app.text(row("Slow hook")), "the finished run in the table", timeout=20)
    order = app.text(row("Order hook"))
    if "100 %" not in order:
        raise Failure(f"the Order hook row reads {order!r}")
    app.wait(lambda: app.text(app.by_test_id("stat-active")).startswith("0"), "no run in progress")
    # The hour view reads the rollups in SQLite.
    # The backup of the settings scenario, on the Backups panel.
    if not app.text(app.by_test_id("last-backup")).startswith("last "):
        raise Failure(f"the dashboard's backup panel reads {app.text(app.by_test_id('last-backup'))!r}")
    app.by_test_id("range-1h").click()
    app.wait(lambda: "Per 1 min" in app.text(app.by_test_id("dashboard-updated")), "the hour view")
    app.wait(lambda: row("Slow hook") is not None and "100 %" in app.text(row("Slow hook")), "the finished run in the hour view")
    # Node by node: the Wait node took the time.
    row("Slow hook").find_element(By.CSS_SELECTOR, '[data-testid="wm-expand"]').click()
    app.wait(lambda: any("Wait" in app.text(r) for r in app.find_all('[data-testid="node-metrics-row"]')), "the Slow hook's nodes")
    app.screenshot("16-dashboard-hour")


def alerts(app):
    """An alert rule made in the form fires from the app's own checks, shows in the history
    with its notification's result, and is acknowledged."""
    app.by_test_id("nav-alerts").click()
    app.wait(lambda: len(app.find_all('[data-testid="rule-row"]')) >= 5, "the predefined rules")
    if any(r.find_element(By.CSS_SELECTOR, '[data-testid="rule-enabled"]').is_selected() for r in app.find_all('[data-testid="rule-row"]')):
        raise Failure("a predefined rule is switched on")
    app.by_test_id("rule-new").click()
    form = app.by_test_id("rule-form")
    app.type_into(form.find_element(By.CSS_SELECTOR, "#rule-name"), "Slow hook ran")
    app.select(form.find_element(By.CSS_SELECTOR, "#rule-metric"), "runs")
    app.select(form.find_element(By.CSS_SELECTOR, "#rule-workflow"), "e2e-slow-hook")
    app.select(form.find_element(By.CSS_SELECTOR, "#rule-comparison"), "gte")
    app.type_into(form.find_element(By.CSS_SELECTOR, "#rule-threshold"), "1")
    app.type_into(form.find_element(By.CSS_SELECTOR, "#rule-window"), "10")
    app.type_into(form.find_element(By.CSS_SELECTOR, "#rule-min-runs"), "0")
    app.select(form.find_element(By.CSS_SELECTOR, "#rule-severity"), "error")
    app.screenshot("17-alert-rule")
    app.by_test_id("rule-save").click()
    app.toast_contains("Saved “Slow hook ran”")
    row = lambda: next((r for r in app.find_all('[data-testid="rule-row"]') if "Slow hook ran" in app.text(r)), None)  # noqa: E731
    app.wait(lambda: row() is not None and "Runs ≥ 1 over 10 min" in app.text(row()), "the new rule in the list")
    # The app checks its rules every 15 s: the Slow hook's run of the last scenario counts.
    app.wait(lambda: any("Slow hook ran" in app.text(r) for r in app.find_all('[data-testid="alert-row"]')), "the alert to fire", timeout=40)
    alert = app.find('[data-testid="alert-row"]')
    if "firing" not in app.text(alert.find_element(By.CSS_SELECTOR, '[data-testid="alert-state"]')) or "notify:" not in app.text(alert):
        raise Failure(f"the alert reads {app.text(alert)!r}")
    app.screenshot("17-alert-fired")
    alert.find_element(By.CSS_SELECTOR, '[data-testid="alert-ack"]').click()
    app.wait(lambda: "acknowledged" in app.text(app.find('[data-testid="alert-state"]')), "the acknowledgement")


class PostgresServer:
    """A PostgreSQL for the database scenario: initdb into a temporary folder (as nobody when
    this runs as root: PostgreSQL refuses root), password (SCRAM) login, a free port."""

    PASSWORD = "e2e pg pass"

    def __init__(self):
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not versions:
            raise Failure("PostgreSQL's server programs are missing (run `cargo xtask setup`)")
        self.bin = os.path.dirname(versions[-1])
        self.dir = tempfile.mkdtemp(prefix="switchyard-e2e-pg-")
        os.chmod(self.dir, 0o777)
        as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        password = os.path.join(self.dir, "password")
        with open(password, "w", encoding="utf-8") as f:
            f.write(self.PASSWORD)
        os.chmod(password, 0o644)
        data = os.path.join(self.dir, "data")
        subprocess.run(
            as_user + [os.path.join(self.bin, "initdb"), "-D", data, "-U", "switchyard", "--auth=scram-sha-256",
                       f"--pwfile={password}", "-E", "UTF8", "--no-locale", "--no-sync"],
            check=True, capture_output=True,
        )
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "server.log"), "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            as_user + [os.path.join(self.bin, "postgres"), "-D", data, "-p", str(self.port), "-k", self.dir,
                       "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.pid_file = os.path.join(data, "postmaster.pid")
        wait_port(self.port, 60)
        deadline = time.time() + 30
        while subprocess.run([os.path.join(self.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode != 0:
            if time.time() > deadline:
                raise Failure("PostgreSQL did not start")
            time.sleep(0.2)

    def psql(self, sql):
        out = subprocess.run(
            [os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
             "-p", str(self.port), "-U", "switchyard", "-d", "postgres", "-c", sql],
            env=dict(os.environ, PGPASSWORD=self.PASSWORD), capture_output=True, text=True, check=True,
        )
        return out.stdout.strip()

    def stop(self):
        # SIGINT to the server itself (runuser does not pass signals on): a fast shutdown.
        try:
            with open(self.pid_file, encoding="utf-8") as f:
                os.kill(int(f.readline().strip()), 2)
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SmtpServer:
    """The tests' SMTP server (crates/testkit/src/smtp_server.py, aiosmtpd from apt) as a
    local relay with a password user; every accepted message is a file in its folder."""

    USER, PASSWORD = "mailer", "e2e smtp pass"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="switchyard-e2e-smtp-")
        self.port = free_port()
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../crates/testkit/src/smtp_server.py")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", script, "--port", str(self.port), "--dir", self.dir, "--mode", "none",
             "--user", self.USER, "--password", self.PASSWORD],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        if self.proc.stdout.readline().strip() != "ready":
            raise Failure("the SMTP server did not start")

    def messages(self):
        found = []
        for path in sorted(glob.glob(os.path.join(self.dir, "*.eml"))):
            with open(path, encoding="utf-8", errors="replace") as f:
                found.append(f.read())
        return found

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def add_account(app, connection_type, label, fields):
    """Adds an account on the Connections page through its form."""
    app.by_test_id("nav-connections").click()
    app.by_test_id("vault-bar")
    app.by_test_id("add-account").click()
    form = app.by_test_id("account-form")
    app.select(form.find_element(By.CSS_SELECTOR, "#account-type"), connection_type)
    first = next(iter(fields))
    app.wait(lambda: form.find_element(By.CSS_SELECTOR, f"#account-field-{first}"), f"the {first} field")
    app.type_into(form.find_element(By.CSS_SELECTOR, "#account-label"), label)
    for name, value in fields.items():
        app.type_into(form.find_element(By.CSS_SELECTOR, f"#account-field-{name}"), value)
    app.button("Add").click()
    return account_row(app, label)


def database_and_email(app):
    """A PostgreSQL account and an SMTP account added on the Connections page and tested;
    Manual → SQL Query → Send Email built on the canvas, run: the rows in the inspector, one
    email per row at the SMTP server."""
    app.button("← Workflows").click()
    db, smtp = PostgresServer(), SmtpServer()
    try:
        db.psql("CREATE TABLE orders (id int PRIMARY KEY, customer text, total numeric(10,2)); "
                "INSERT INTO orders VALUES (1, 'Ada', 19.90), (2, 'Lin', 5.10)")
        row = add_account(app, "db.postgres", "shop", {
            "host": "127.0.0.1", "port": str(db.port), "database": "postgres", "user": "switchyard",
            "password": db.PASSWORD, "tls": "disable"})
        app.wait(lambda: "Ready" in app.text(row), "the PostgreSQL account")
        row_button(row, "Test").click()
        app.toast_contains("connected to PostgreSQL")
        app.screenshot("19-database-account")
        row = add_account(app, "email.smtp", "mail", {
            "host": "127.0.0.1", "port": str(smtp.port), "security": "none", "user": SmtpServer.USER,
            "password": SmtpServer.PASSWORD, "from": "Shop <shop@example.test>"})
        app.wait(lambda: "Ready" in app.text(row), "the SMTP account")
        row_button(row, "Test").click()
        app.toast_contains("signed in to SMTP")

        app.by_test_id("nav-workflows").click()
        new_workflow(app, "E2E orders mail")
        r = app.rect(app.node("Start"))
        app.drag_from_palette("db.query", r["x"] + r["width"] + 140, r["y"] + r["height"] / 2)
        # Below it: the cards of a new workflow are drawn large, and the next one to the
        # right would leave the canvas.
        r = app.rect(app.node("SQL Query"))
        app.drag_from_palette("email.send", r["x"] + r["width"] / 2, r["y"] + r["height"] + 140)
        app.node("Send Email")
        app.connect("Start", "main", "SQL Query")
        app.wait(lambda: app.edge_count() == 1, "Start → SQL Query")
        app.connect("SQL Query", "main", "Send Email")
        app.wait(lambda: app.edge_count() == 2, "SQL Query → Send Email")

        app.actions().double_click(app.node("SQL Query")).perform()
        panel = app.by_test_id("node-panel")
        app.select(panel.find_element(By.CSS_SELECTOR, "#credential-database"), json.dumps(["db.postgres", "shop"], separators=(",", ":")))
        app.type_into(panel.find_element(By.CSS_SELECTOR, '[aria-label="SQL"]'), "SELECT id, customer, total FROM orders ORDER BY id")
        app.keys(Keys.ESCAPE)
        app.gone('[data-testid="node-panel"]')
        app.actions().double_click(app.node("Send Email")).perform()
        panel = app.by_test_id("node-panel")
        app.select(panel.find_element(By.CSS_SELECTOR, "#credential-smtp"), json.dumps(["email.smtp", "mail"], separators=(",", ":")))
        app.type_into(panel.find_element(By.CSS_SELECTOR, '[aria-label="To"]'), "team@example.test")
        app.type_into(panel.find_element(By.CSS_SELECTOR, '[aria-label="Subject"]'), "Order {{ json.id }} from {{ json.customer }}")
        app.type_into(panel.find_element(By.CSS_SELECTOR, '[aria-label="Text"]'), "Total: {{ json.total }}")
        app.keys(Keys.ESCAPE)
        app.gone('[data-testid="node-panel"]')

        app.by_test_id("run").click()
        app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the run to succeed", timeout=30)
        app.node("SQL Query").click()
        table = app.by_test_id("items-table")
        app.wait(lambda: "Ada" in app.text(table) and "Lin" in app.text(table) and "19.90" in app.text(table), "the rows in the inspector")
        app.wait(lambda: len(smtp.messages()) == 2, "two emails at the SMTP server")
        mails = smtp.messages()
        if "Subject: Order 1 from Ada" not in mails[0] or "Total: 19.90" not in mails[0]:
            raise Failure(f"the first email reads {mails[0][:400]!r}")
        app.keys("s", ctrl=True)
        app.toast_contains("Saved")
    finally:
        db.stop()
        smtp.stop()


ENRICH = {
    "switchyard": 1, "id": "e2e-enrich", "name": "E2E enrich",
    "nodes": [
        {"id": "c", "name": "Called", "type": "trigger.workflow", "position": [0, 0]},
        {"id": "s", "name": "Greeting", "type": "data.set", "position": [320, 0],
         "parameters": {"assignments": [{"name": "greeting", "value": "Hello from {{ workflow.name }}"}]}},
    ],
    "connections": [{"from": {"node": "c"}, "to": {"node": "s"}}],
}


def open_workflow(app, name):
    """Goes back to the workflows page and opens the workflow called `name`."""
    app.button("← Workflows").click()
    row = lambda: next((r for r in app.find_all('[data-testid="workflow-row"]') if name in app.text(r)), None)  # noqa: E731
    app.wait(lambda: row() is not None, f"{name} in the list")
    row().click()


def open_last_run(app):
    """Opens the newest run from the history panel, then closes the panel (it covers the
    right of the canvas)."""
    app.by_test_id("history-button").click()
    app.wait(lambda: len(app.find_all('[data-testid="history-row"]')) >= 1, "a run in the history")
    app.find_all('[data-testid="history-row"]')[0].click()
    app.by_test_id("viewing-banner")
    app.find('[aria-label="Close history"]').click()
    app.gone('[data-testid="history"]')


def sub_workflows(app):
    """A saved workflow that starts when called; a new workflow built on the canvas calls it
    (picked by name in the node panel) and shows the called workflow's result; from the past
    run, the Execute Workflow node opens the called run on the canvas, and back."""
    imported = api_call(app, "workflow_import", {"text": json.dumps(ENRICH), "keepId": True})
    api_call(app, "workflow_trust", {"id": "e2e-enrich", "version": imported["record"]["version"]})
    app.button("← Workflows").click()
    new_workflow(app, "E2E caller")
    r = app.rect(app.node("Start"))
    app.drag_from_palette("flow.execute_workflow", r["x"] + r["width"] + 140, r["y"] + r["height"] / 2)
    app.node("Execute Workflow")
    app.connect("Start", "main", "Execute Workflow")
    app.wait(lambda: app.edge_count() == 1, "Start → Execute Workflow")
    app.actions().double_click(app.node("Execute Workflow")).perform()
    panel = app.by_test_id("node-panel")
    picker = panel.find_element(By.CSS_SELECTOR, '[aria-label="Saved workflow"]')
    app.wait(lambda: "E2E enrich" in app.text(picker), "the saved workflows in the picker")
    app.select(picker, "e2e-enrich")
    app.screenshot("20-pick-workflow")
    app.keys(Keys.ESCAPE)
    app.gone('[data-testid="node-panel"]')
    app.keys("s", ctrl=True)
    app.toast_contains("Saved")
    app.by_test_id("run").click()
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the run to succeed", timeout=30)
    app.node("Execute Workflow").click()
    app.wait(lambda: "Hello from E2E enrich" in app.text(app.by_test_id("inspector")), "the called workflow's result")
    # The past run: the node lists the run it called; opening it shows the called workflow.
    open_last_run(app)
    app.node("Execute Workflow").click()
    app.wait(lambda: len(app.find_all('[data-testid="open-called-run"]')) == 1, "the called run under the node")
    app.screenshot("20-called-runs")
    app.by_test_id("open-called-run").click()
    app.wait(lambda: "E2E enrich" in app.text(app.by_test_id("viewing-banner")), "the called run on the canvas")
    app.wait(lambda: app.node("Greeting").get_attribute("data-status") == "success", "the called run's states")
    # The canvas frames the called workflow (below the banner) before the picture is taken.
    banner = app.rect(app.by_test_id("viewing-banner"))
    app.wait(lambda: app.rect(app.node("Greeting"))["y"] > banner["y"] + banner["height"], "the called workflow framed")
    time.sleep(0.3)
    app.screenshot("20-called-run")
    app.by_test_id("open-caller").click()
    app.wait(lambda: "E2E enrich" not in app.text(app.by_test_id("viewing-banner")), "back at the calling run")
    app.node("Execute Workflow")
    app.button("Back to editing").click()
    app.gone('[data-testid="viewing-banner"]')


def flaky_workflow():
    fetch = lambda node_id, name, x, path: {  # noqa: E731
        "id": node_id, "name": name, "type": "http.request", "position": [x, 0], "parameters": {"url": f"{API.url}{path}"}}
    return {
        "switchyard": 1, "id": "e2e-flaky", "name": "E2E flaky",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual", "position": [0, 0]},
            fetch("a", "Orders", 300, "/count/orders"),
            fetch("b", "Stock", 600, "/count/broken-once"),
            # Not wired: the versions scenario removes it and sees it drawn as removed.
            {"id": "spare", "name": "Spare", "type": "flow.noop", "position": [300, 200]},
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "a"}}, {"from": {"node": "a"}, "to": {"node": "b"}}],
    }


def retry_from_failed(app):
    """A run fails at its second call; from the failed run, "Retry from failed node" runs only
    that node again (the first call is not made twice) and the new run plays on the canvas."""
    imported = api_call(app, "workflow_import", {"text": json.dumps(flaky_workflow()), "keepId": True})
    api_call(app, "workflow_trust", {"id": "e2e-flaky", "version": imported["record"]["version"]})
    open_workflow(app, "E2E flaky")
    app.node("Stock")
    app.by_test_id("run").click()
    app.wait(lambda: "error" in app.text(app.by_test_id("run-status")), "the run to fail at Stock", timeout=30)
    open_last_run(app)
    app.screenshot("21-failed-run")
    app.by_test_id("retry-failed").click()
    app.gone('[data-testid="viewing-banner"]')
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the retry to succeed", timeout=30)
    app.wait(lambda: "reused" in app.text(app.node("Orders")), "Orders reused, not run again")
    calls = (API.counted.get("/count/orders"), API.counted.get("/count/broken-once"))
    if calls != (1, 2):
        raise Failure(f"calls to the server (orders, stock): {calls}, expected (1, 2)")


def versions(app):
    """A save through the API changes a node; the Versions panel lists both versions, marks
    the changed node on the canvas against version 1, lists the change, and restores it."""
    record = api_call(app, "workflow_get", {"id": "e2e-flaky"})
    workflow = record["workflow"]
    next(n for n in workflow["nodes"] if n["name"] == "Stock")["parameters"]["url"] = f"{API.url}/count/stock-v2"
    workflow["nodes"] = [n for n in workflow["nodes"] if n["name"] != "Spare"]
    api_call(app, "workflow_save", {"workflow": workflow, "expectedVersion": record["version"], "note": "new stock path"})
    # Open it again, so the editor holds the new version.
    open_workflow(app, "E2E flaky")
    app.node("Stock")
    app.by_test_id("versions-button").click()
    app.wait(lambda: len(app.find_all('[data-testid="version-row"]')) >= 2, "the versions")
    rows = app.find_all('[data-testid="version-row"]')
    if "new stock path" not in app.text(rows[0]):
        raise Failure(f"the newest version reads {app.text(rows[0])!r}")
    rows[-1].click()
    app.wait(lambda: app.node("Stock").get_attribute("data-mark") == "changed", "Stock marked as changed")
    app.wait(lambda: app.node("Spare").get_attribute("data-mark") == "removed", "Spare drawn as removed")
    diff = app.text(app.by_test_id("version-diff"))
    if "parameters.url" not in diff or "stock-v2" not in diff:
        raise Failure(f"the diff reads {diff!r}")
    app.screenshot("22-version-diff")
    app.by_test_id("version-restore").click()
    app.find('[role="dialog"]').find_element(By.XPATH, './/button[normalize-space(.)="Restore"]').click()
    app.toast_contains("Restored: saved as version")
    app.wait(lambda: app.node("Stock").get_attribute("data-mark") is None, "no marks after restoring")
    restored = api_call(app, "workflow_get", {"id": "e2e-flaky"})
    url = next(n for n in restored["workflow"]["nodes"] if n["name"] == "Stock")["parameters"]["url"]
    if not url.endswith("/count/broken-once"):
        raise Failure(f"the restored Stock URL is {url}")


def pin_and_run_from_here(app):
    """Pinned data written as JSON in the inspector stands in for a node in a run started by
    hand; "Run from here" runs only a node and what follows, on what came before last time."""
    orders, stock = "/count/orders", "/count/broken-once"
    before = (API.counted.get(orders, 0), API.counted.get(stock, 0))
    app.find('[aria-label="Close versions"]').click()
    app.gone('[data-testid="versions"]')
    # A node's notes show on its card.
    app.actions().double_click(app.node("Orders")).perform()
    panel = app.by_test_id("node-panel")
    panel.find_element(By.XPATH, './/button[normalize-space(.)="Settings"]').click()
    app.type_into(app.find("#node-notes"), "Counts the orders")
    app.keys(Keys.ESCAPE)
    app.gone('[data-testid="node-panel"]')
    app.wait(lambda: "Counts the orders" in app.text(app.node("Orders")), "the notes on the card")
    app.node("Orders").click()
    app.by_test_id("edit-pin").click()
    editor = app.find('[aria-label="Pinned items (JSON)"]')
    app.type_into(editor, '[{"calls": 99, "from": "pin"}]')
    app.find('[data-testid="pin-editor"]').find_element(By.XPATH, './/button[normalize-space(.)="Pin"]').click()
    app.gone('[data-testid="pin-editor"]')
    app.wait(lambda: len(app.node("Orders").find_elements(By.CSS_SELECTOR, ".pin")) == 1, "the pin marker on Orders")
    app.by_test_id("run").click()
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the run with the pin", timeout=30)
    app.screenshot("23-pinned")
    after = (API.counted.get(orders, 0), API.counted.get(stock, 0))
    if after != (before[0], before[1] + 1):
        raise Failure(f"calls (orders, stock) went from {before} to {after}: the pinned node must not run")
    # Unpinned again; from Stock on, Orders stands in with what it emitted in that run.
    app.node("Orders").click()
    app.button("Unpin").click()
    app.context_menu(app.node("Stock"))
    app.find('[role="menu"]')
    app.button("Run from here").click()
    app.wait(lambda: API.counted.get(stock, 0) == before[1] + 2, "Stock to run again")
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the run from Stock", timeout=30)
    app.wait(lambda: "reused" in app.text(app.node("Orders")), "Orders reused from the last run")
    if API.counted.get(orders, 0) != before[0]:
        raise Failure("Run from here called Orders again")


def templates(app):
    """"New from template" lists the examples with their drawings; using one opens a new
    workflow made from it."""
    app.keys("s", ctrl=True)
    app.toast_contains("Saved")
    app.button("← Workflows").click()
    app.by_test_id("new-from-template").click()
    app.wait(lambda: len(app.find_all('[data-testid="template-card"]')) >= 5, "the examples in the gallery")
    app.screenshot("24-templates")
    app.by_test_id("use-example:hello-world").click()
    app.node("Greet")
    saved = api_call(app, "workflow_list", {"search": "Hello world"})["workflows"]
    if len(saved) != 1:
        raise Failure(f"workflows named Hello world: {saved}")


def breakpoints(app):
    """A breakpoint (context menu) pauses a run before its node: the canvas shows the paused
    node and the items about to go in; Step runs just that node and pauses before the next;
    Continue runs on; F9 removes the breakpoint."""
    orders, stock = "/count/orders", "/count/broken-once"
    open_workflow(app, "E2E flaky")
    app.context_menu(app.node("Orders"))
    app.find('[role="menu"]')
    app.button("Add breakpoint").click()
    app.wait(lambda: len(app.node("Orders").find_elements(By.CSS_SELECTOR, '[data-testid="breakpoint"]')) == 1, "the breakpoint dot")
    before = (API.counted.get(orders, 0), API.counted.get(stock, 0))
    app.by_test_id("run").click()
    banner = app.by_test_id("paused-banner")
    app.wait(lambda: "Paused before “Orders”: 1 item about to go in" in app.text(banner), "the pause before Orders")
    app.wait(lambda: app.node("Orders").get_attribute("data-status") == "paused", "Orders shown paused")
    app.by_test_id("paused-show").click()
    app.wait(lambda: "(about to go in)" in app.text(app.by_test_id("inspector")), "the items about to go in")
    time.sleep(0.3)
    app.screenshot("25-paused")
    if (API.counted.get(orders, 0), API.counted.get(stock, 0)) != before:
        raise Failure("a node ran past the breakpoint")
    app.by_test_id("debug-step").click()
    app.wait(lambda: "Paused before “Stock” (step)" in app.text(app.by_test_id("paused-banner")), "the step to pause before Stock")
    app.wait(lambda: app.node("Orders").get_attribute("data-status") == "success", "Orders ran")
    if (API.counted.get(orders, 0), API.counted.get(stock, 0)) != (before[0] + 1, before[1]):
        raise Failure("Step ran more than Orders")
    app.screenshot("25-stepped")
    app.by_test_id("debug-continue").click()
    app.gone('[data-testid="paused-banner"]')
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the run to go on to the end", timeout=30)
    # F9 on the selected node removes the breakpoint again.
    app.node("Orders").click()
    app.keys(Keys.F9)
    app.wait(lambda: len(app.node("Orders").find_elements(By.CSS_SELECTOR, '[data-testid="breakpoint"]')) == 0, "the breakpoint removed")


def free_spot(app, width, height):
    """A point of the canvas with a width × height box right and below it clear of nodes and
    of the minimap (window coordinates), for something added there to be clickable."""
    r = app.rect(app.find(".react-flow__pane"))
    taken = [app.rect(e) for e in app.find_all(".react-flow__node, .react-flow__minimap, .react-flow__controls")]
    for y in range(int(r["y"]) + 40, int(r["y"] + r["height"] - height), 20):
        for x in range(int(r["x"]) + 60, int(r["x"] + r["width"] - width), 20):
            clear = all(x + width < t["x"] or t["x"] + t["width"] < x or y + height < t["y"] or t["y"] + t["height"] < y for t in taken)
            if clear:
                return x, y
    raise Failure("no free space on the canvas for a note")


def sticky_notes(app):
    """A sticky note added from the canvas menu: markdown written in place shows rendered (a
    heading, bold, a link), the note takes another colour and a new size, its link asks
    before opening the browser, and the note is saved in the file."""
    pane = app.find(".react-flow__pane")
    x, y = free_spot(app, 360, 230)
    app.driver.execute_script(
        """arguments[0].dispatchEvent(new MouseEvent('contextmenu', {bubbles: true, cancelable: true, button: 2,
          clientX: arguments[1], clientY: arguments[2]}));""",
        pane, x, y,
    )
    app.find('[role="menu"]')
    app.button("Add sticky note").click()
    note = app.by_test_id("sticky-note")
    app.actions().double_click(app.by_test_id("note-body")).perform()
    editor = app.find('[aria-label="Note text (markdown)"]')
    app.type_into(editor, "# Checklist")
    editor.send_keys(Keys.ENTER, "**Check** the [stock docs](https://example.com/stock)", Keys.ENTER, "- counts first")
    written = editor.get_attribute("value")
    if written != "# Checklist\n**Check** the [stock docs](https://example.com/stock)\n- counts first":
        raise Failure(f"the note holds {written!r}")
    app.keys(Keys.ESCAPE)
    app.gone('[aria-label="Note text (markdown)"]')
    body = app.by_test_id("note-body")
    app.wait(lambda: app.text(body.find_element(By.CSS_SELECTOR, "h2")) == "Checklist", "the heading rendered")
    if app.text(body.find_element(By.CSS_SELECTOR, "strong")) != "Check":
        raise Failure(f"the note reads {app.text(body)!r}")
    # Selected: colour swatches and resize handles.
    note.click()
    app.by_test_id("note-color-blue").click()
    app.wait(lambda: app.by_test_id("sticky-note").get_attribute("data-color") == "blue", "the note turned blue")
    handle = app.find(".react-flow__resize-control.handle.bottom.right")
    app.actions().click_and_hold(handle).move_by_offset(40, 20).move_by_offset(40, 20).release().perform()
    # A link in a note is confirmed before the browser opens.
    app.by_test_id("note-body").find_element(By.CSS_SELECTOR, "a").click()
    dialog = app.find('[role="dialog"]')
    if "https://example.com/stock" not in app.text(dialog):
        raise Failure(f"the dialog reads {app.text(dialog)!r}")
    app.screenshot("26-link-confirm")
    dialog.find_element(By.XPATH, './/button[normalize-space(.)="Cancel"]').click()
    app.gone('[role="dialog"]')
    app.keys("s", ctrl=True)
    app.toast_contains("Saved")
    saved = api_call(app, "workflow_get", {"id": "e2e-flaky"})["workflow"].get("notes", [])
    if len(saved) != 1 or saved[0]["color"] != "blue" or not saved[0]["content"].startswith("# Checklist"):
        raise Failure(f"the saved notes: {saved}")
    if saved[0]["size"][0] <= 260 or saved[0]["size"][1] <= 160:
        raise Failure(f"the note was not resized: {saved[0]['size']}")
    app.click_empty_canvas()


class LlmServer:
    """The scripted chat model server (crates/testkit's `llm-server` program, which the Rust
    tests build): answers OpenAI's API on a free port until its input closes."""

    def __init__(self):
        program = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../target/debug/llm-server")
        if not os.path.exists(program):
            raise Failure("target/debug/llm-server is missing: `cargo test --workspace` (or `cargo xtask test`) builds it")
        self.proc = subprocess.Popen([program], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            raise Failure(f"the model server did not start (it printed {line!r})")
        self.port = int(line)

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# The model server the "Ollama" account of scenario 27 points at; scenario 28 uses it too.
_llm = None


def shared_llm():
    global _llm
    if _llm is None:
        _llm = LlmServer()
    return _llm


def stop_shared_llm():
    global _llm
    if _llm is not None:
        _llm.stop()
        _llm = None


def ai_chat(app):
    """A chat model account from the Ollama preset, pointed at the scripted model server and
    tested (it lists the models); Manual → AI Chat built on the canvas: the answer streams
    onto the node while it comes in, and with a schema made from an example the answer's
    fields show in the inspector."""
    leave_editor(app)
    llm = shared_llm()
    app.by_test_id("nav-connections").click()
    app.by_test_id("vault-bar")
    app.by_test_id("add-account").click()
    form = app.by_test_id("account-form")
    app.select(form.find_element(By.CSS_SELECTOR, "#account-type"), "llm.openaiCompatible")
    app.wait(lambda: form.find_element(By.CSS_SELECTOR, "#account-preset"), "the preset list")
    app.select(form.find_element(By.CSS_SELECTOR, "#account-preset"), "ollama")
    base = form.find_element(By.CSS_SELECTOR, "#account-field-baseUrl")
    app.wait(lambda: base.get_attribute("value") == "http://127.0.0.1:11434/v1", "Ollama's base URL from the preset")
    if form.find_element(By.CSS_SELECTOR, "#account-label").get_attribute("value") != "Ollama":
        raise Failure("the preset did not name the account")
    url = f"http://127.0.0.1:{llm.port}/v1"
    app.type_into(base, url)
    app.wait(lambda: base.get_attribute("value") == url, "the model server's base URL in the form")
    app.screenshot("27-model-account-form")
    app.button("Add").click()
    row = account_row(app, "Ollama")
    app.wait(lambda: "Ready" in app.text(row), "the model account")
    row_button(row, "Test").click()
    app.toast_contains("10 models")

    app.by_test_id("nav-workflows").click()
    new_workflow(app, "E2E AI chat")
    r = app.rect(app.node("Start"))
    app.drag_from_palette("ai.chat", r["x"] + r["width"] + 140, r["y"] + r["height"] / 2)
    app.node("AI Chat")
    app.connect("Start", "main", "AI Chat")
    app.wait(lambda: app.edge_count() == 1, "Start → AI Chat")
    app.actions().double_click(app.node("AI Chat")).perform()
    panel = app.by_test_id("node-panel")
    app.select(panel.find_element(By.CSS_SELECTOR, "#credential-model"), json.dumps(["llm.openaiCompatible", "Ollama"], separators=(",", ":")))
    app.type_into(panel.find_element(By.CSS_SELECTOR, '[aria-label="Model"]'), "slow")
    prompt = "Tell me, slowly and at length, how a switchyard sorts the freight cars of an incoming train onto their tracks."
    app.type_into(panel.find_element(By.CSS_SELECTOR, '[aria-label="Prompt"]'), prompt)
    app.keys(Keys.ESCAPE)
    app.gone('[data-testid="node-panel"]')

    # The slow model writes four characters every 40 ms: the card shows part of the
    # answer before the whole of it.
    app.by_test_id("run").click()
    streamed = lambda: app.find('[data-testid="node-streamed"]')  # noqa: E731
    app.wait(lambda: streamed() is not None and 8 < len(app.text(streamed())) and "tracks." not in app.text(streamed()), "part of the answer on the node")
    app.screenshot("27-answer-streaming")
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the run to succeed", timeout=30)
    app.node("AI Chat").click()
    table = app.by_test_id("items-table")
    app.wait(lambda: "incoming train onto their tracks." in app.text(table), "the whole answer in the inspector")
    if "tokens" not in app.text(app.node("AI Chat")):
        raise Failure(f"the node does not show the tokens used: {app.text(app.node('AI Chat'))!r}")

    # Structured output: a schema made from an example answer.
    app.actions().double_click(app.node("AI Chat")).perform()
    panel = app.by_test_id("node-panel")
    app.select(panel.find_element(By.CSS_SELECTOR, '[aria-label="Answer as"]'), json.dumps("schema"))
    app.type_into(panel.find_element(By.CSS_SELECTOR, '[aria-label="Model"]'), "schema")
    app.wait(lambda: panel.find_element(By.CSS_SELECTOR, '[data-testid="schema-from-example"]'), "the schema editor")
    panel.find_element(By.CSS_SELECTOR, '[data-testid="schema-from-example"]').click()
    app.type_into(panel.find_element(By.CSS_SELECTOR, '[aria-label="Example answer"]'), '{"category": "billing", "urgency": 3}')
    panel.find_element(By.CSS_SELECTOR, '[data-testid="schema-infer"]').click()
    schema = panel.find_element(By.CSS_SELECTOR, '[aria-label="Output schema"]')
    app.wait(lambda: '"urgency": {' in schema.get_attribute("value"), "the schema made from the example")
    app.screenshot("27-output-schema")
    app.keys(Keys.ESCAPE)
    app.gone('[data-testid="node-panel"]')
    app.by_test_id("run").click()
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the structured run to succeed", timeout=30)
    app.node("AI Chat").click()
    table = app.by_test_id("items-table")
    app.wait(lambda: "category" in app.text(table) and "urgency" in app.text(table), "the answer's fields as columns")
    app.screenshot("27-structured-output")
    app.keys("s", ctrl=True)
    app.toast_contains("Saved")


def ai_orchestrate(app):
    """Three agents voting on the canvas (two say "billing", one "bug"), the third on its own
    model; each agent's account can be chosen in the panel. The run's answer is the
    majority's, and the Orchestrations page shows the vote table and the agents' figures."""
    leave_editor(app)
    shared_llm()
    new_workflow(app, "E2E consensus")
    r = app.rect(app.node("Start"))
    app.drag_from_palette("ai.orchestrate", r["x"] + r["width"] + 140, r["y"] + r["height"] / 2)
    app.node("AI Orchestrate")
    app.connect("Start", "main", "AI Orchestrate")
    app.wait(lambda: app.edge_count() == 1, "Start → AI Orchestrate")
    app.actions().double_click(app.node("AI Orchestrate")).perform()
    panel = app.by_test_id("node-panel")
    ollama = json.dumps(["llm.openaiCompatible", "Ollama"], separators=(",", ":"))
    app.select(panel.find_element(By.CSS_SELECTOR, "#credential-model"), ollama)
    # One picker per agent, named after it.
    third = panel.find_element(By.CSS_SELECTOR, '[id="credential-agent:third"]')
    app.select(third, ollama)
    entries = panel.find_elements(By.CSS_SELECTOR, '[data-testid="list-agents"] .list-entry')
    if len(entries) != 3:
        raise Failure(f"expected the three default agents, found {len(entries)}")
    for entry, model in zip(entries, ["say:billing", "say:Billing.", "say:bug"]):
        app.type_into(entry.find_element(By.CSS_SELECTOR, '[aria-label="Model"]'), model)
    app.type_into(panel.find_element(By.CSS_SELECTOR, '[aria-label="Task"]'), "Classify: my invoice is wrong")
    app.screenshot("28-agents-panel")
    app.keys(Keys.ESCAPE)
    app.gone('[data-testid="node-panel"]')
    app.by_test_id("run").click()
    app.wait(lambda: "success" in app.text(app.by_test_id("run-status")), "the orchestration to succeed", timeout=30)
    app.node("AI Orchestrate").click()
    table = app.by_test_id("items-table")
    app.wait(lambda: "billing" in app.text(table), "the majority's answer in the inspector")
    app.keys("s", ctrl=True)
    app.toast_contains("Saved")
    # The minimap can be hidden, and stays hidden when the editor opens again.
    app.find(".react-flow__minimap")
    app.by_test_id("toggle-minimap").click()
    app.gone(".react-flow__minimap")

    app.button("← Workflows").click()
    app.by_test_id("nav-orchestrations").click()
    node = app.by_test_id("orchestration-node")
    app.wait(lambda: "E2E consensus" in app.text(node) and app.find_all('[data-testid="record-winner"]'), "its run's record")
    winner = app.text(app.by_test_id("record-winner"))
    if winner != "first":
        raise Failure(f"the winner should be the first agent, the page says {winner!r}")
    tally = app.text(app.by_test_id("record-tally"))
    if "first, second (2) vs third (1)" not in tally:
        raise Failure(f"unexpected vote tally {tally!r}")
    votes = [app.text(row) for row in app.find_all('[data-testid="vote-row"]')]
    if len(votes) != 3 or "say:bug" not in votes[2] or "group 2" not in votes[2]:
        raise Failure(f"unexpected vote table {votes!r}")
    app.screenshot("28-orchestrations-page")
    app.by_test_id("nav-workflows").click()
    row = app.wait(lambda: next((r for r in app.find_all('[data-testid="workflow-row"]') if "E2E consensus" in app.text(r)), None), "the workflow's row")
    row.click()
    app.node("AI Orchestrate")
    if app.find_all(".react-flow__minimap"):
        raise Failure("the hidden minimap came back when the editor opened again")
    app.by_test_id("toggle-minimap").click()
    app.wait(lambda: app.find_all(".react-flow__minimap"), "the minimap shown again")


AXE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node_modules/axe-core/axe.min.js")


def axe_violations(app):
    """Runs axe-core (injected into the page) on the document; returns its violations of
    impact serious or critical, and all of them."""
    if not os.path.exists(AXE):
        raise Failure("tests/e2e/node_modules/axe-core is missing: run `cargo xtask setup`")
    with open(AXE, encoding="utf-8") as f:
        app.driver.execute_script(f.read() + "\n;window.__axe = axe;")
    app.driver.set_script_timeout(60)
    found = app.driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        window.__axe.run(document, {resultTypes: ["violations"]})
          .then((r) => done(JSON.stringify(r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map((n) => ({target: n.target, html: n.html.slice(0, 300), summary: n.failureSummary})),
          })))))
          .catch((e) => done(JSON.stringify({error: String(e)})));
        """
    )
    found = json.loads(found)
    if isinstance(found, dict):
        raise Failure(f"axe-core failed: {found['error']}")
    return [v for v in found if v["impact"] in ("serious", "critical")], found


def set_theme(app, theme):
    app.by_test_id("nav-settings").click()
    app.select(app.find("#theme"), theme)
    app.wait(lambda: app.driver.execute_script("return document.documentElement.dataset.theme") == theme, f"the {theme} theme")


def accessibility(app):
    """axe-core in the real window on every page — workflows, the editor with a node panel
    open, dashboard, orchestrations, alerts, webhooks, connections, settings, help — in the light
    and the dark theme: no violation of impact serious or critical. The report is saved
    beside the screenshots."""
    leave_editor(app)
    report = {}
    problems = []

    def check(page):
        serious, everything = axe_violations(app)
        report[page] = everything
        for v in serious:
            where = "; ".join(" ".join(n["target"]) for n in v["nodes"][:4])
            problems.append(f"{page}: {v['id']} ({v['impact']}): {v['help']} — {where}")

    for theme in ("light", "dark"):
        set_theme(app, theme)
        check(f"settings/{theme}")
        app.by_test_id("nav-workflows").click()
        app.by_test_id("new-workflow")
        check(f"workflows/{theme}")
        for nav in ("dashboard", "orchestrations", "alerts", "webhooks", "connections", "help"):
            app.by_test_id(f"nav-{nav}").click()
            app.by_test_id(f"{nav}-page" if nav in ("orchestrations", "webhooks", "help") else f"nav-{nav}")
            time.sleep(0.5)
            check(f"{nav}/{theme}")
        app.by_test_id("nav-workflows").click()
        new_workflow(app, f"E2E accessibility {theme}")
        app.gone('[role="dialog"]')
        app.wait(lambda: app.node("Start").is_displayed(), "the Start node")
        time.sleep(0.5)
        app.actions().double_click(app.node("Start")).perform()
        panel = app.rect(app.by_test_id("node-panel"))
        # The canvas narrows beside the panel, and the open node stays in view.
        canvas = app.rect(app.find(".canvas"))
        node = app.rect(app.node("Start"))
        if canvas["x"] + canvas["width"] > panel["x"] + 1:
            raise Failure(f"the canvas runs under the side panel: {canvas} / {panel}")
        if not (canvas["x"] <= node["x"] and node["x"] + node["width"] <= canvas["x"] + canvas["width"]):
            raise Failure(f"the open node is not in view beside the panel: {node} / {canvas}")
        check(f"editor-with-node-panel/{theme}")
        app.screenshot(f"29-editor-{theme}")
        app.keys(Keys.ESCAPE)
        app.button("← Workflows").click()
    with open(os.path.join(app.out_dir, "29-accessibility.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    if problems:
        raise Failure("accessibility violations (serious or critical):\n  " + "\n  ".join(problems))


def deploy_to_server(app):
    """Deploy to…: a `switchyard serve` started here (the app's own binary in CLI mode, on
    its own data folder) gets an admin API token; the app adds it as a Switchyard server
    account, deploys a webhook workflow there and activates it, the server answers the
    webhook, and the editor's history panel shows the server's run, which opens read-only on
    the canvas."""
    leave_editor(app)
    server_dir = tempfile.mkdtemp(prefix="switchyard-e2e-server-")
    cli = [app.app_path, "--cli", "--data-dir", server_dir]
    token = subprocess.run(cli + ["tokens", "create", "--name", "e2e", "--scope", "admin"], capture_output=True, text=True, check=True).stdout.strip()
    port = free_port()
    server = subprocess.Popen(cli + ["serve", "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        if "listening on" not in server.stderr.readline():
            raise Failure("switchyard serve did not start")
        hook = dict(ORDER_HOOK, id="e2e-deployed", name="Deployed hook")
        api_call(app, "workflow_import", {"text": json.dumps(hook), "keepId": True})
        add_account(app, "switchyard.server", "e2e-server", {"baseUrl": f"http://127.0.0.1:{port}", "token": token})
        app.by_test_id("nav-workflows").click()
        row = lambda: next((r for r in app.find_all('[data-testid="workflow-row"]') if "Deployed hook" in app.text(r)), None)  # noqa: E731
        app.wait(lambda: row() is not None, "Deployed hook in the list")
        row().click()
        app.by_test_id("deploy").click()
        app.by_test_id("deploy-dialog")
        app.wait(lambda: app.by_test_id("deploy-server").get_attribute("value") == "e2e-server", "the server in the dialog")
        app.by_test_id("deploy-confirm").click()
        result = app.by_test_id("deploy-result")
        app.wait(lambda: "Deployed to e2e-server" in app.text(result) and "active" in app.text(result), "the deploy's result")
        app.screenshot("30-deploy-result")
        status, body = post_json(f"http://127.0.0.1:{port}/webhook/e2e-deployed/orders", {"id": "A-1", "qty": 2, "price": 5})
        if status != 200 or body.get("total") != 10:
            raise Failure(f"the server answered {status}: {body}")
        app.button("Close").click()
        app.gone('[data-testid="deploy-dialog"]')
        app.by_test_id("history-button").click()
        app.select(app.by_test_id("history-source"), "e2e-server")
        app.wait(lambda: any("webhook" in app.text(r) for r in app.find_all('[data-testid="history-row"]')), "the server's run in the history")
        # The server's run opens read-only on this canvas, read from the server.
        next(r for r in app.find_all('[data-testid="history-row"]') if "webhook" in app.text(r)).click()
        app.wait(lambda: "on e2e-server" in app.text(app.by_test_id("viewing-banner")), "the server's run on the canvas")
        app.wait(lambda: all(app.node(n["name"]).get_attribute("data-status") == "success" for n in hook["nodes"]), "the server run's node states")
        app.screenshot("31-server-run")
        app.button("Back to editing").click()
        app.gone('[data-testid="viewing-banner"]')
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(server_dir, ignore_errors=True)


SCENARIOS = [
    ("00-first-run", first_run),
    ("01-create-by-dragging", create_by_dragging),
    ("02-set-parameters", set_parameters),
    ("03-run-and-watch", run_and_watch),
    ("04-save", save),
    ("05-undo-redo", undo_redo),
    ("06-copy-paste-menu", copy_paste_and_menu),
    ("07-history", history),
    ("08-export-import", export_and_import),
    ("09-workflows-list", workflows_list),
    ("10-drop-file", drop_file),
    ("11-connections", connections),
    ("12-account-in-workflow", account_in_workflow),
    ("13-retry-settings", retry_settings),
    ("14-settings-page", settings_page),
    ("15-webhooks", webhooks),
    ("16-dashboard", dashboard),
    ("17-alerts", alerts),
    ("18-local-files", local_files),
    ("19-database-and-email", database_and_email),
    ("20-sub-workflows", sub_workflows),
    ("21-retry-from-failed", retry_from_failed),
    ("22-versions", versions),
    ("23-pin-and-run-from-here", pin_and_run_from_here),
    ("24-templates", templates),
    ("25-breakpoints", breakpoints),
    ("26-sticky-notes", sticky_notes),
    ("27-ai-chat", ai_chat),
    ("28-ai-orchestrate", ai_orchestrate),
    ("29-accessibility", accessibility),
    ("30-deploy-to-server", deploy_to_server),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", help="run scenarios up to and including this one")
    parser.add_argument("--scenario", action="append", help="run only this scenario (repeatable)")
    args = parser.parse_args()
    if os.environ.get("E2E_TRACE"):
        # Every WebDriver request and response, to find the step a hang happens in.
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(message)s")
    app_path = os.path.abspath(args.app)
    out = os.path.abspath(args.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    home = tempfile.mkdtemp(prefix="switchyard-e2e-home-")
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"), XDG_DATA_HOME=os.path.join(home, ".local/share"))
    # WebKit's accelerated compositing stays on under test: with it off (the app's default
    # on machines without a GPU), WebKitWebDriver's screenshot call sometimes never returns.
    env.setdefault("SWITCHYARD_COMPOSITING", "on")
    # No keyring in this run: the vault takes the master-password path, as on a machine
    # without one (the keyring path has its own tests against gnome-keyring).
    env["SWITCHYARD_KEYRING"] = "off"
    env.pop("SWITCHYARD_MASTER_PASSWORD", None)
    # WebDriver can drive neither the OS's file dialogs nor real file drops: the tests answer
    # dialogs from the page and emit drop events, whose paths the app would otherwise refuse
    # (it reads and writes only files chosen in its own dialogs or dropped for real).
    env["SWITCHYARD_TEST_ANY_PATH"] = "1"
    driver_log = open(os.path.join(out, "tauri-driver.log"), "w", encoding="utf-8")
    driver = subprocess.Popen(
        ["tauri-driver", "--port", str(DRIVER_PORT), "--native-port", str(free_port()), "--native-driver", "/usr/bin/WebKitWebDriver"],
        env=env,
        stdout=driver_log,
        stderr=subprocess.STDOUT,
    )
    passed, failed = 0, 0
    app = None
    try:
        wait_port(DRIVER_PORT, 30)
        data_dir = tempfile.mkdtemp(prefix="switchyard-e2e-data-")
        app = App(app_path, out, data_dir)
        app.home = home
        app.app_path = app_path
        app.wait(lambda: app.button("New workflow"), "the workflows page", timeout=40)
        app.screenshot("00-start")
        for name, scenario in SCENARIOS:
            if args.scenario and name not in args.scenario:
                continue
            started = time.time()
            try:
                app.dismiss_toasts()
                scenario(app)
                app.screenshot(name)
                passed += 1
                print(f"ok   {name} ({time.time() - started:.1f} s)", flush=True)
            except Exception as e:  # noqa: BLE001 - report every failure with a screenshot
                failed += 1
                print(f"FAIL {name}: {e}", flush=True)
                traceback.print_exc()
                try:
                    app.screenshot(f"FAILED-{name}")
                except WebDriverException as shot:
                    # The session is gone: the app or its web view ended. What they printed
                    # last (tauri-driver's log holds both) says why.
                    print(f"no screenshot ({type(shot).__name__}); the end of tauri-driver.log:", flush=True)
                    driver_log.flush()
                    with open(os.path.join(out, "tauri-driver.log"), encoding="utf-8", errors="replace") as log:
                        print("".join(log.readlines()[-60:]), flush=True)
                break
            if args.only and name.startswith(args.only):
                break
    finally:
        stop_shared_llm()
        if app:
            app.quit()
        driver.terminate()
        try:
            driver.wait(10)
        except subprocess.TimeoutExpired:
            driver.kill()
        driver_log.close()
    print(f"e2e: {passed} passed, {failed} failed; screenshots in {out}")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
