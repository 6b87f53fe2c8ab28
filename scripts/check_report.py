#!/usr/bin/env python3
"""Opens every index.html under a folder in headless Chromium, from the file system, and fails
on any console error, uncaught exception, failed load, or image that did not load; also checks
that every relative link and image of each page names a file that exists.

Talks to Chromium over --remote-debugging-pipe (the DevTools protocol as NUL-separated JSON on
file descriptors 3 and 4), so it needs nothing but the Python standard library.

usage: check_report.py DIR [--screenshot OUT_DIR] [--chromium PATH]
"""

import argparse
import base64
import fcntl
import html.parser
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

TIMEOUT = 30.0


class Links(html.parser.HTMLParser):
    """Collects the src and href attributes of a page."""

    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.refs.append((tag, value))


def missing_files(page: Path):
    """Relative links and images of the page that name no existing file."""
    parser = Links()
    parser.feed(page.read_text(encoding="utf-8"))
    missing = []
    for tag, ref in parser.refs:
        parsed = urllib.parse.urlparse(ref)
        if parsed.scheme in ("http", "https"):
            missing.append(f"<{tag}> {ref}: network address (a report must work offline)")
            continue
        if parsed.scheme or ref.startswith("#"):
            continue
        target = (page.parent / urllib.parse.unquote(parsed.path)).resolve()
        if not target.exists():
            missing.append(f"<{tag}> {ref}: no such file")
    return missing


class Browser:
    def __init__(self, chromium: str):
        self.profile = tempfile.mkdtemp(prefix="check-report-")
        cmd_r, cmd_w = os.pipe()  # we write commands; Chromium reads fd 3
        res_r, res_w = os.pipe()  # Chromium writes fd 4; we read responses

        def child_fds():
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--allow-file-access-from-files",
            f"--user-data-dir={self.profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args,
            preexec_fn=child_fds,
            pass_fds=(3, 4),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(cmd_r)
        os.close(res_w)
        self.w = cmd_w
        self.r = res_r
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            m = self._read_message(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, session, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method and e.get("sessionId") == session:
                del self.events[i]
                return e
        while True:
            m = self._read_message(deadline)
            if m.get("method") == method and m.get("sessionId") == session:
                return m
            self.events.append(m)

    def drain(self, seconds):
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except TimeoutError:
            pass

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def check_page(browser: Browser, page: Path, shot_dir):
    problems = []
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session=session)
    browser.send("Emulation.setDeviceMetricsOverride",
                 {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
    browser.events.clear()
    browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
    browser.wait_event("Page.loadEventFired", session)
    browser.drain(0.3)
    images = browser.send("Runtime.evaluate", {
        "expression": "JSON.stringify(Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]))",
        "returnByValue": True,
    }, session=session)["result"]["value"]
    for src, complete, width in json.loads(images):
        if not complete or width == 0:
            problems.append(f"image {src} did not load")
    for e in browser.events:
        if e.get("sessionId") != session:
            continue
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            problems.append("exception: " + p.get("exceptionDetails", {}).get("text", "?"))
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            problems.append("console error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            problems.append(f"console error: {entry.get('text', '')} {entry.get('url', '')}".strip())
        elif method == "Network.loadingFailed":
            problems.append(f"load failed: {p.get('errorText', '')} (request {p.get('requestId')})")
    if shot_dir:
        data = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                            "clip": {"x": 0, "y": 0, "width": 1280, "height": 2400, "scale": 1}}, session=session)["data"]
        name = str(page.parent).strip("/").replace("/", "_") + ".png"
        Path(shot_dir, name).write_bytes(base64.b64decode(data))
    browser.send("Target.closeTarget", {"targetId": target})
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--screenshot", help="also save a screenshot of each page in this folder")
    ap.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    a = ap.parse_args()
    root = Path(a.dir)
    pages = sorted(root.rglob("index.html")) if root.is_dir() else []
    if not pages:
        print(f"check_report: no index.html under {a.dir}", file=sys.stderr)
        return 1
    if not a.chromium:
        print("check_report: chromium not found (apt-get install -y chromium)", file=sys.stderr)
        return 1
    if a.screenshot:
        os.makedirs(a.screenshot, exist_ok=True)
    failures = 0
    browser = Browser(a.chromium)
    try:
        for page in pages:
            problems = missing_files(page) + check_page(browser, page, a.screenshot)
            if problems:
                failures += 1
                for p in problems:
                    print(f"FAIL {page}: {p}")
            else:
                print(f"ok   {page}")
    finally:
        browser.close()
    print(f"{len(pages) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
