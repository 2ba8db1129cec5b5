"""A minimal Chrome DevTools Protocol client: open a page in headless Chromium, take screenshots.

Used instead of ``chromium --screenshot --virtual-time-budget``, which is unreliable with
pages that keep a websocket open (it sometimes shoots before the page has loaded). Only
the ``websockets`` package (a dependency of viser) is needed.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time
from pathlib import Path

from websockets.sync.client import connect

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
]


class HeadlessChromium:
    """``with HeadlessChromium(binary, profile_dir) as b: b.open(url); b.screenshot(path)``."""

    def __init__(self, binary: str, profile_dir: Path, size: tuple[int, int] = (1000, 700),
                 timeout: float = 30.0) -> None:
        self.binary, self.profile_dir, self.size, self.timeout = binary, Path(profile_dir), size, timeout
        self._ids = itertools.count(1)
        self.proc: subprocess.Popen | None = None
        self.ws = None

    def __enter__(self) -> HeadlessChromium:
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile_dir}",
             f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port_file = self.profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start: {self.proc.stderr.read()[-2000:] if self.proc.poll() is not None else 'timeout'}")
            time.sleep(0.1)
        port, browser_path = port_file.read_text().split()[:2]
        self.ws = connect(f"ws://127.0.0.1:{port}{browser_path}", max_size=64 * 1024 * 1024,
                          open_timeout=self.timeout)
        self.session: str | None = None
        return self

    def call(self, method: str, **params):
        """Send one CDP command (to the page once ``open`` attached one) and return its result."""
        msg_id = next(self._ids)
        msg = {"id": msg_id, "method": method, "params": params}
        if self.session is not None:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        while True:  # events in between are dropped
            reply = json.loads(self.ws.recv(timeout=self.timeout))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"CDP {method}: {reply['error']}")
                return reply.get("result", {})

    def open(self, url: str) -> None:
        """Open ``url`` in a new page (the window size of the constructor) and attach to it."""
        target = self.call("Target.createTarget", url=url)
        self.session = self.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        self.call("Page.enable")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def __exit__(self, *exc) -> None:
        if self.ws is not None:
            self.ws.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
