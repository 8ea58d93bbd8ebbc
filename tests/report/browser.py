"""Open a page in real headless Chromium and report what it rendered, logged and fetched.

Chromium is driven through the DevTools protocol over ``--remote-debugging-pipe`` (NUL-separated JSON
on file descriptors 3 and 4), so no websocket client or other dependency is needed. The page is loaded,
then the driver collects: a full-page screenshot, the rendered size of every ``<svg>``, every console
message, log entry and uncaught exception, and every network request the page made.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
# Without the networking switches Chromium tries to reach Google services; the machines have no internet.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)
TIMEOUT_S = 60
_SVG_SIZES = """JSON.stringify([...document.querySelectorAll('svg')].map(svg => {
    const box = svg.getBoundingClientRect();
    return {id: svg.closest('figure') ? svg.closest('figure').id : '', width: box.width, height: box.height,
            drawn: svg.querySelectorAll('path, use, text').length};
}))"""


@dataclass
class PageReport:
    screenshot: bytes
    svgs: list[dict[str, Any]]
    console: list[str] = field(default_factory=list)  # console messages, log entries, exceptions
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    scripts: int = 0  # <script> elements in the rendered DOM


class Chromium:
    """One headless Chromium process and one page, driven over the DevTools pipe."""

    def __init__(self, executable: str = CHROMIUM) -> None:
        self.profile = tempfile.mkdtemp(prefix="qadiag-chromium-")
        from_chromium, to_us = os.pipe()
        from_us, to_chromium = os.pipe()

        def on_fds_3_and_4() -> None:
            # Chromium reads commands on fd 3 and writes replies on fd 4. Both ends go above 4 first
            # (close-on-exec), so that putting one on 3 cannot overwrite the other.
            commands = fcntl.fcntl(from_us, fcntl.F_DUPFD_CLOEXEC, 5)
            replies = fcntl.fcntl(to_us, fcntl.F_DUPFD_CLOEXEC, 5)
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        # close_fds=False keeps the inheritable fds 3 and 4 made above; Python's own fds are not inheritable.
        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            preexec_fn=on_fds_3_and_4, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(from_us)
        os.close(to_us)
        self.reader, self.writer = from_chromium, to_chromium
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.deadline = time.monotonic() + TIMEOUT_S

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (OSError, EOFError, TimeoutError, RuntimeError):
            self.process.kill()
        finally:
            self.process.wait(timeout=30)
            os.close(self.reader)
            os.close(self.writer)
            shutil.rmtree(self.profile, ignore_errors=True)

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.reader], [], [], left)[0]:
                raise TimeoutError(f"Chromium did not answer within {TIMEOUT_S} s")
            chunk = os.read(self.reader, 1 << 20)
            if not chunk:
                raise EOFError(f"Chromium exited (status {self.process.poll()})")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self.writer, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        seen = next((event for event in self.events if event.get("method") == method), None)
        while seen is None:
            event = self._receive()
            self.events.append(event)
            if event.get("method") == method:
                seen = event
        return seen

    def open(self, path: Path, width: int = 1280, height: int = 4000) -> PageReport:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        self.call("Page.navigate", {"url": path.resolve().as_uri()}, session)
        self.wait_for("Page.loadEventFired")
        svgs = self._evaluate(_SVG_SIZES, session)
        scripts = self._evaluate("JSON.stringify(document.scripts.length)", session)
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        return PageReport(
            screenshot=base64.b64decode(shot["data"]),
            svgs=svgs,
            console=[_describe(event) for event in self.events if event.get("method") in _CONSOLE_EVENTS],
            requests=[event["params"]["request"]["url"] for event in self.events
                      if event.get("method") == "Network.requestWillBeSent"],
            scripts=scripts,
        )

    def _evaluate(self, expression: str, session: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        return json.loads(result["result"]["value"])


_CONSOLE_EVENTS = ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded")


def _describe(event: dict[str, Any]) -> str:
    params = event["params"]
    if event["method"] == "Log.entryAdded":
        return f"{params['entry']['level']}: {params['entry']['text']}"
    if event["method"] == "Runtime.exceptionThrown":
        return f"exception: {params['exceptionDetails'].get('text')}"
    return f"console.{params['type']}: {[arg.get('value') for arg in params.get('args', [])]}"


def render(path: Path) -> PageReport:
    browser = Chromium()
    try:
        return browser.open(path)
    finally:
        browser.close()
