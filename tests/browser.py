"""A headless Chromium driven over the DevTools protocol through a pipe: no network, no websocket.

``chromium --remote-debugging-pipe`` reads JSON commands from file descriptor 3 and writes replies and
events to descriptor 4, each message ended by a NUL byte. That is all a test needs to load a page,
collect console errors, failed loads and network requests, evaluate JavaScript and take a screenshot,
with nothing beyond the Debian ``chromium`` package.

    >>> with Browser() as b:                          # doctest: +SKIP
    ...     page = b.load("file:///tmp/report.html")
    ...     page.errors, b.evaluate("document.title"), len(b.screenshot())
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field


def chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


@dataclass
class Loaded:
    errors: list = field(default_factory=list)  # console errors, uncaught exceptions, error log entries
    requests: list = field(default_factory=list)  # every URL the page asked for


class Browser:
    def __init__(self, width: int = 1200, height: int = 900, timeout: float = 30.0):
        exe = chromium()
        if exe is None:
            raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="tinyaug-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def child_fds():
            # The protocol's fixed descriptors, 3 in and 4 out. Copy both ends above 10 first, so that
            # neither dup2 clobbers the other (a pipe end may itself be 3 or 4); os.dup2 makes 3 and 4
            # inheritable, while every other descriptor Python opened is close-on-exec (PEP 446), so
            # close_fds=False passes just these two (pass_fds would fail where the parent has no fd 3).
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            close_fds=False, preexec_fn=child_fds, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf, self._id, self.events = b"", 0, []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": False}, session=True)

    # -- the protocol -----------------------------------------------------------------------------
    def _recv(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise EOFError("chromium exited")
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._recv()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    # -- what the tests use -----------------------------------------------------------------------
    def load(self, url: str) -> Loaded:
        """Navigate and wait for the load event; what went wrong on the way is in the result."""
        self.events = []
        self.call("Page.navigate", {"url": url}, session=True)
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading in {self.timeout} s")
            self.events.append(self._recv())
        self.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))", await_promise=True)
        loaded = Loaded()
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                loaded.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif method == "Runtime.exceptionThrown":
                loaded.errors.append(p["exceptionDetails"].get("exception", {}).get("description")
                                     or p["exceptionDetails"].get("text"))
            elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                loaded.errors.append(p["entry"]["text"])
            elif method == "Network.loadingFailed":
                loaded.errors.append(f"failed to load: {p.get('errorText')}")
            elif method == "Network.requestWillBeSent":
                loaded.requests.append(p["request"]["url"])
        return loaded

    def evaluate(self, expression: str, await_promise: bool = False):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": await_promise}, session=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("text"))
        return result["result"].get("value")

    def screenshot(self, full_page: bool = False) -> bytes:
        """PNG bytes of the viewport (or the whole page, up to 4000 px tall)."""
        params = {"format": "png"}
        if full_page:
            h = min(int(self.evaluate("document.documentElement.scrollHeight")), 4000)
            w = int(self.evaluate("document.documentElement.scrollWidth"))
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": w, "height": h, "scale": 1})
        return base64.b64decode(self.call("Page.captureScreenshot", params, session=True)["data"])

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (EOFError, OSError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def blank(png: bytes) -> bool:
    """True when the image is one flat colour (a page that rendered nothing)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    low, high = image.getextrema()
    return high - low < 16 or len(image.getcolors(1 << 16) or []) < 8


def load_page(browser: Browser, path) -> Loaded:
    """Load ``path``; assert no console error and no request beyond the file itself."""
    loaded = browser.load(path.resolve().as_uri())
    assert loaded.errors == [], f"console errors on {path}: {loaded.errors}"
    assert loaded.requests == [path.resolve().as_uri()], f"{path} asked for more than itself: {loaded.requests}"
    return loaded
