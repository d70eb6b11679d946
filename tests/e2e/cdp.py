"""A minimal Chrome DevTools Protocol client for the report tests: a real headless Chromium
(Debian's /usr/bin/chromium) loads a page at a given width, and the test reads the console
errors, evaluates a check in the page and takes a full-page screenshot."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Every Chromium the tests start: headless, no sandbox (root in CI), nothing in the background.
HEADLESS_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FLAGS = [
    *HEADLESS_FLAGS,
    "--hide-scrollbars",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]
STARTUP_SECONDS = 60  # a loaded CI machine; not a timing assertion
LOAD_SECONDS = 60


@dataclass
class PageResult:
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    value: Any = None  # what the check expression returned
    screenshot: bytes = b""


class Browser:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint  # http://127.0.0.1:<port>

    def visit(self, url: str, check: str, width: int = 1280, height: int = 900) -> PageResult:
        """Open `url` in a new tab at `width` px, wait for load, evaluate `check` (a JS
        expression returning JSON-able data) and take a full-page screenshot."""
        target = requests.put(f"{self.endpoint}/json/new?about:blank", timeout=30).json()
        result = PageResult()
        try:
            with connect(target["webSocketDebuggerUrl"], max_size=None) as ws:
                session = _Session(ws, result)
                for method in ("Page.enable", "Runtime.enable", "Log.enable"):
                    session.call(method)
                session.call(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                )
                session.call("Page.navigate", {"url": url})
                session.wait_for("Page.loadEventFired")
                evaluated = session.call(
                    "Runtime.evaluate", {"expression": check, "returnByValue": True}
                )
                if "exceptionDetails" in evaluated:
                    raise AssertionError(f"the check failed in the page: {evaluated}")
                result.value = evaluated["result"].get("value")
                shot = session.call(
                    "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
                )
                result.screenshot = base64.b64decode(shot["data"])
        finally:
            requests.get(f"{self.endpoint}/json/close/{target['id']}", timeout=30)
        return result


class _Session:
    def __init__(self, ws: Any, result: PageResult) -> None:
        self.ws, self.result, self.next_id = ws, result, 0

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.result.errors.append(json.dumps(params["exceptionDetails"])[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.result.errors.append(json.dumps(params.get("args"))[:500])
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            self.result.errors.append(f"{entry.get('source')}: {entry.get('text')}")

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params or {}}))
        while True:
            message = json.loads(self.ws.recv(timeout=LOAD_SECONDS))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def wait_for(self, event: str) -> None:
        while True:
            message = json.loads(self.ws.recv(timeout=LOAD_SECONDS))
            self._event(message)
            if message.get("method") == event:
                return


@contextmanager
def chromium(profile: Path) -> Iterator[Browser]:
    """A headless Chromium with the DevTools protocol on a free port; stopped on exit."""
    assert CHROMIUM is not None
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_SECONDS
        while not port_file.exists() or not port_file.read_text().strip():
            if proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {proc.returncode} before listening")
            if time.monotonic() > deadline:
                raise RuntimeError(f"chromium wrote no {port_file} in {STARTUP_SECONDS} s")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        yield Browser(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
