#!/usr/bin/env python3
"""Checks the optimlab playground page in headless Chromium over the DevTools protocol.

The page must load with no console error and no network request (besides the page itself and
the worker's blob: URL); pressing play must move the optimizer paths; window.optimlab.trajectory
must equal `optimlab trajectory ... --dtype f64 --json` bit for bit for every update rule;
window.optimlab.train on the digits must reach test accuracy >= 0.9; switching the optimizer or
batch norm must change the curves (through the hook and through the page's controls); the
initialisation histograms must count ReLU's zeros; the page must fit a phone's width.
Prints the page size, load time and the digits run's accuracy and wall time.

usage: check_playground.py URL --cli OPTIMLAB [--screenshot DIR] [--chromium PATH]
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_report import Browser  # noqa: E402

# (function, optimizer, preset, start, steps, extra keys): every update rule, both flavours.
CASES = [
    ("book", "sgd", "book", [-7, 2], 30, {"lr": 0.95}),
    ("book", "momentum", "book", [-7, 2], 30, {"lr": 0.1}),
    ("book", "momentum", "torch", [-7, 2], 30, {"lr": 0.1, "momentum": 0.8}),
    ("book", "adagrad", "book", [-7, 2], 30, {"lr": 1.5}),
    ("book", "adam", "book", [-7, 2], 30, {"lr": 0.3}),
    ("rosenbrock", "adam", "torch", [-1.5, 2], 200, {"lr": 0.05, "beta1": 0.8, "beta2": 0.99}),
    ("rosenbrock", "nesterov", "book", [-1.2, 1.7], 100, {"lr": 0.0005, "momentum": 0.9}),
    ("beale", "rmsprop", "torch", [1, 1.5], 100, {"lr": 0.01, "rho": 0.9}),
    ("beale", "adamw", "torch", [1, 1.5], 100, {"lr": 0.05}),
    ("saddle", "amsgrad", "torch", [-1, 0.001], 60, {"lr": 0.05}),
    ("saddle", "nadam", "torch", [-1, 0.001], 60, {"lr": 0.05}),
    ("book", "radam", "torch", [-7, 2], 80, {"lr": 0.3}),
    ("rosenbrock", "adadelta", "torch", [-1.5, 2], 80, {"lr": 1.0, "rho": 0.95}),
    ("beale", "lion", "torch", [1, 1.5], 80, {"lr": 0.01, "beta1": 0.9, "beta2": 0.99}),
    ("book", "adam", "book", [3.25, -4.5], 50, {"lr": 0.2, "flavour": "torch"}),
]


class Page:
    def __init__(self, browser, url, width, height, mobile):
        self.b = browser
        self.url = url
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.target = target
        self.s = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=self.s)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": height, "deviceScaleFactor": 2 if mobile else 1,
                      "mobile": mobile}, session=self.s)
        browser.events.clear()
        t0 = time.monotonic()
        browser.send("Page.navigate", {"url": url}, session=self.s)
        browser.wait_event("Page.loadEventFired", self.s, timeout=60)
        self.eval("window.optimlab.ready", timeout=60)
        self.load_seconds = time.monotonic() - t0

    def eval(self, expr, timeout=120):
        r = self.b.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                              "awaitPromise": True, "timeout": timeout * 1000},
                        session=self.s)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise RuntimeError(f"{expr[:80]}: {d.get('exception', {}).get('description') or d.get('text')}")
        return r["result"].get("value")

    def problems(self):
        out = []
        for e in self.b.events:
            if e.get("sessionId") != self.s:
                continue
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: " + (d.get("exception", {}).get("description") or d.get("text", "?")))
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                out.append(f"console {p.get('type')}: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                entry = p["entry"]
                out.append(f"console {entry.get('level')}: {entry.get('text', '')} {entry.get('url', '')}".strip())
            elif method == "Network.loadingFailed":
                out.append(f"load failed: {p.get('errorText', '')}")
            elif method == "Network.requestWillBeSent":
                u = p.get("request", {}).get("url", "")
                base = u.split("#")[0]
                if base != self.url.split("#")[0] and not u.startswith(("blob:", "data:")):
                    out.append(f"network request: {u}")
        return out

    def screenshot(self, path, full=True):
        params = {"format": "png"}
        if full:
            size = self.eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": min(size[1], 4000), "scale": 1}
        data = self.b.send("Page.captureScreenshot", params, session=self.s)["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self):
        self.b.send("Target.closeTarget", {"targetId": self.target})


def cli_trajectory(cli, function, optimizer, preset, start, steps, extra):
    cmd = [cli, "trajectory", "--function", function, "--optimizer", optimizer, "--preset", preset,
           "--dtype", "f64", "--steps", str(steps), f"--start={start[0]},{start[1]}", "--json"]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", help="the page: a file path or an http:// address")
    ap.add_argument("--cli", required=True, help="the optimlab binary, for the trajectory comparison")
    ap.add_argument("--screenshot", help="save screenshots (desktop and phone) into this folder")
    ap.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    a = ap.parse_args()
    if not a.chromium:
        print("check_playground: chromium not found (apt-get install -y chromium)", file=sys.stderr)
        return 1
    url = a.url if a.url.startswith(("http://", "file://")) else Path(a.url).resolve().as_uri()
    if a.screenshot:
        os.makedirs(a.screenshot, exist_ok=True)
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    browser = Browser(a.chromium)
    try:
        page = Page(browser, url, 1280, 900, False)
        size = page.eval("document.documentElement.outerHTML.length")
        print(f"page: {url}: {size} characters, ready {page.load_seconds:.2f} s after navigation "
              f"(the library compiled and started in {page.eval('window.optimlab.loadMs'):.0f} ms)")

        # Pressing play moves the paths.
        page.eval("document.getElementById('r-reset').click()")
        before = page.eval("window.optimlab.raceState()")
        page.eval("document.getElementById('r-play').click()")
        time.sleep(1.0)
        after = page.eval("window.optimlab.raceState()")
        check(before["k"] == 0 and after["k"] > 3 and after["heads"] != before["heads"],
              f"play moves the paths (step {before['k']} -> {after['k']})")

        # The hook's paths are the CLI's, bit for bit.
        for function, optimizer, preset, start, steps, extra in CASES:
            req = {"function": function, "optimizer": optimizer, "preset": preset, "start": start,
                   "steps": steps, **extra}
            got = page.eval(f"window.optimlab.trajectory({json.dumps(req)})")
            want = cli_trajectory(a.cli, function, optimizer, preset, start, steps, extra)
            same = (got["x"] == [p[0] for p in want["positions"]]
                    and got["y"] == [p[1] for p in want["positions"]]
                    and got["f"] == want["values"] and len(got["x"]) == steps + 1)
            check(same, f"trajectory {function} {optimizer} ({preset}{', ' + json.dumps(extra)}) equals the CLI's")

        # Training on the digits.
        run = page.eval("window.optimlab.train({data: 'digits', hidden: [100, 100], optimizer: 'adam', "
                        "lr: 0.001, epochs: 10, batch_norm: false, dropout: 0, seed: 0})", timeout=300)
        print(f"digits: test accuracy {run['test_acc']:.4f}, train accuracy {run['train_acc']:.4f} "
              f"after 10 epochs of {run['network']} in {run['seconds']:.2f} s (wall time in the page)")
        check(run["test_acc"] >= 0.9, f"train on digits reaches test accuracy {run['test_acc']:.4f} >= 0.9")
        base = {"data": "digits", "hidden": [50], "optimizer": "adam", "lr": 0.001, "epochs": 2, "seed": 1}
        runs = {}
        for name, change in [("base", {}), ("sgd", {"optimizer": "sgd", "lr": 0.1}),
                             ("batch_norm", {"batch_norm": True}), ("again", {})]:
            runs[name] = page.eval(f"window.optimlab.train({json.dumps({**base, **change})})")["loss"]
        check(runs["base"] == runs["again"], "the same settings give the same curve")
        check(runs["sgd"] != runs["base"], "switching the optimizer changes the curve (hook)")
        check(runs["batch_norm"] != runs["base"], "switching batch norm on changes the curve (hook)")

        # The same through the page's controls: the train tab, five steps, then batch norm.
        page.eval("document.querySelector('[data-tab=train]').click()")
        wait_sessions = ("new Promise(r => { const t = setInterval(() => { const s = window.optimlab.trainState();"
                         " if (s.sessions > 0 && s.history.every(h => h.length === 0)) { clearInterval(t); r(true); } }, 50); })")

        def five_steps():
            page.eval(wait_sessions, timeout=30)
            for _ in range(5):
                page.eval("document.getElementById('t-step').click()")
                page.eval("new Promise(r => setTimeout(r, 150))")
            page.eval("new Promise(r => { const t = setInterval(() => { if (window.optimlab.trainState().history"
                      ".every(h => h.length >= 5)) { clearInterval(t); r(true); } }, 50); })", timeout=60)
            return page.eval("window.optimlab.trainState().history.map(h => h.map(e => e.loss))")

        plain = five_steps()
        check(len(plain) == 2 and plain[0] != plain[1], "two racers train side by side with different curves")
        page.eval("const b = document.getElementById('t-bn'); b.checked = true; b.dispatchEvent(new Event('change'))")
        with_bn = five_steps()
        check(with_bn[0] != plain[0], "ticking batch norm in the page changes the curves")
        page.eval("const s = document.querySelector('#t-racers select'); s.value = 'rmsprop'; s.dispatchEvent(new Event('change'))")
        other = five_steps()
        check(other[0] != with_bn[0] and other[1] == with_bn[1],
              "switching the first racer's optimizer changes its curve only")
        page.eval("new Promise(r => { const t = setInterval(() => { if (document.getElementById('t-hist').dataset.zeros) { clearInterval(t); r(true); } }, 50); })", timeout=30)
        zeros = json.loads(page.eval("document.getElementById('t-hist').dataset.zeros"))
        check(len(zeros) == 5 and all(z > 10000 for z in zeros),
              f"the ReLU activation histograms count their zeros: {zeros}")
        # The initialisation tab: sigmoid with std 1 has no exact zeros; ReLU with He does.
        page.eval("document.querySelector('[data-tab=init]').click()")
        hist_zeros = ("new Promise(r => { const t = setInterval(() => { const z = document.getElementById('i-hist').dataset.zeros;"
                      " if (z) { clearInterval(t); delete document.getElementById('i-hist').dataset.zeros; r(JSON.parse(z)); } }, 50); })")
        sigmoid = page.eval(hist_zeros, timeout=30)
        page.eval("const a = document.getElementById('i-activation'); a.value = 'relu'; a.dispatchEvent(new Event('change'));"
                  "const i = document.getElementById('i-init'); i.value = 'he'; i.dispatchEvent(new Event('change'))")
        relu = page.eval(hist_zeros, timeout=30)
        check(sigmoid == [0] * 5 and len(relu) == 5 and all(z > 10000 for z in relu),
              f"the initialisation tab draws the study (zeros: sigmoid {sigmoid}, ReLU {relu})")
        page.eval("document.querySelector('[data-tab=train]').click()")
        state = page.eval("decodeURIComponent(location.hash.slice(1))")
        check('"bn":true' in state and "rmsprop" in state, "the address holds the page's state")
        if a.screenshot:
            # The XOR set with four optimizers, trained for a few seconds.
            page.eval("const d = document.getElementById('t-data'); d.value = 'xor'; d.dispatchEvent(new Event('change'))")
            for _ in range(2):
                page.eval("document.querySelector('#t-racers > button').click()")
            page.eval(wait_sessions, timeout=30)
            page.eval("document.getElementById('t-play').click()")
            time.sleep(4)
            page.eval("document.getElementById('t-play').click()")
            time.sleep(0.3)
            page.screenshot(Path(a.screenshot, "playground-train.png"), full=False)
            page.screenshot(Path(a.screenshot, "playground-train-full.png"))
            page.eval("document.querySelector('[data-tab=race]').click()")
            page.screenshot(Path(a.screenshot, "playground-race.png"), full=False)
        problems = page.problems()
        for p in problems:
            check(False, p)
        check(not problems, "no console error, exception or network request (desktop)")
        page.close()

        # A phone: the state travels in the address; nothing is wider than the screen.
        link = url.split("#")[0] + "#" + __import__("urllib.parse").parse.quote(state)
        phone = Page(browser, link, 390, 844, True)
        restored = phone.eval("window.optimlab.trainState().history.length")
        check(restored == 2 and phone.eval("document.getElementById('t-bn').checked"),
              "a link restores the setup (batch norm on, two racers)")
        width = phone.eval("[document.documentElement.scrollWidth, window.innerWidth]")
        check(width[0] <= width[1], f"the page fits a phone's width ({width[0]} <= {width[1]} px)")
        if a.screenshot:
            phone.eval("document.querySelector('[data-tab=race]').click()")
            phone.screenshot(Path(a.screenshot, "playground-phone.png"), full=False)
        problems = phone.problems()
        for p in problems:
            check(False, p)
        check(not problems, "no console error, exception or network request (phone)")
        phone.close()
    finally:
        browser.close()
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
