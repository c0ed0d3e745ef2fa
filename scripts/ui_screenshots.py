"""Looks at the Dagster UI the way a person would, with headless Chromium, and saves screenshots.

Starts `dagster dev` on 127.0.0.1 in a temporary home on the bundled sample market, refreshes
four nights, and opens the asset graph, the night's businesses, the alerts, the job and the
automation page in Chromium (driven over the DevTools protocol on loopback); then makes one
comparison request and opens its report. PNGs go to bench/out/. Stops what it started.

    scripts/ui_screenshots.sh            # needs Debian's chromium package
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dagster_dev import dagster_dev, prepare  # noqa: E402

OUT = ROOT / "bench" / "out"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
    "--window-size=1600,1000", "--hide-scrollbars",
]  # fmt: skip


class Page:
    """One Chromium tab, driven over the DevTools protocol."""

    def __init__(self, websocket_url: str) -> None:
        from websockets.sync.client import connect

        self._socket = connect(websocket_url, max_size=64 * 2**20)
        self._next = 0
        self.call("Page.enable")
        self.resize(1600, 1000)

    def resize(self, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride",
                  width=width, height=height, deviceScaleFactor=1, mobile=False)  # fmt: skip

    def call(self, method: str, **params):
        self._next += 1
        self._socket.send(json.dumps({"id": self._next, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == self._next:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, script: str):
        result = self.call("Runtime.evaluate", expression=script, returnByValue=True)
        return result.get("result", {}).get("value")

    def open(self, url: str, *, wait_for_text: str, timeout_s: float = 45) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for(wait_for_text, timeout_s)

    def wait_for(self, text: str, timeout_s: float = 45) -> None:
        deadline = time.monotonic() + timeout_s
        probe = f"document.body && document.body.innerText.includes({json.dumps(text)})"
        while not self.evaluate(probe):
            if time.monotonic() > deadline:
                self.screenshot(OUT / "failed-wait.png")
                raise RuntimeError(f"the page never showed {text!r}; see failed-wait.png")
            time.sleep(0.3)
        time.sleep(1.5)  # let the graph layout and fonts settle

    def click_text(self, text: str) -> None:
        """Click the innermost visible element whose own text is exactly `text`."""
        script = f"""(() => {{
            const want = {json.dumps(text)};
            const hits = [...document.querySelectorAll('button, a, span, div')]
                .filter(e => e.innerText && e.innerText.trim() === want && e.offsetParent);
            if (!hits.length) return false;
            const target = hits[hits.length - 1];
            target.scrollIntoView({{block: 'center'}});
            target.click();
            return true;
        }})()"""
        if not self.evaluate(script):
            self.screenshot(OUT / "failed-click.png")
            raise RuntimeError(f"nothing to click labelled {text!r}; see failed-click.png")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        print(f"saved {path.relative_to(ROOT)}")


def start_chromium(profile: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise SystemExit("needs Chromium (Debian: apt-get install -y chromium)")
    process = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("Chromium did not open its DevTools port")
        time.sleep(0.2)
    port = port_file.read_text().split()[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
        page = next(t for t in json.load(answer) if t["type"] == "page")
    return process, page["webSocketDebuggerUrl"]


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def refresh_nights(env: dict[str, str], today) -> None:
    """Four nights in one run, so the later ones have history and, on the drifting sample
    market, alerts."""
    first = today - timedelta(days=3)
    cli(env, "refresh", "--from", first.isoformat(), "--to", today.isoformat())


def compare(env: dict[str, str], business: str) -> str:
    """A comparison through `request`, run by the daemon's sensor; returns the request id."""
    request_id = cli(env, "request", business).strip()
    deadline = time.monotonic() + 120
    while "status    done" not in cli(env, "status", request_id):
        if time.monotonic() > deadline:
            raise RuntimeError(f"comparison {request_id} did not finish")
        time.sleep(1)
    return request_id


def shoot_night(page: Page, url: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    # Wide enough that the graph, fitted to the window, is drawn with full nodes (name, status,
    # partitions, checks) rather than bare names.
    page.resize(2400, 1000)
    page.open(f"{url}/asset-groups", wait_for_text="comparison_metrics")
    page.screenshot(OUT / "asset-graph.png")
    page.resize(1600, 1000)
    # Tall, so the whole table of the night fits: the UI scrolls inside its own panes.
    page.resize(1600, 2000)
    page.open(f"{url}/assets/comparison_metrics", wait_for_text="Bean Theory Coffee")
    page.screenshot(OUT / "nightly-businesses.png")
    page.open(f"{url}/assets/alerts", wait_for_text="changes")
    page.screenshot(OUT / "alerts.png")
    page.resize(1600, 1000)
    # The code location is named after workspace.yaml's module and attribute.
    job = f"{url}/locations/pipelines.definitions:defs/jobs/nightly_refresh_job"
    page.resize(2400, 1000)
    page.open(job, wait_for_text="View as Asset Graph")
    page.screenshot(OUT / "job.png")
    page.resize(1600, 1000)
    page.open(f"{url}/automation", wait_for_text="comparison_request_sensor")
    page.screenshot(OUT / "automation.png")


def shoot_report(page: Page, url: str) -> None:
    page.open(f"{url}/assets/reports", wait_for_text="Show Markdown")
    page.screenshot(OUT / "reports-asset.png")
    page.click_text("[Show Markdown]")
    page.wait_for("competitor report for")
    page.screenshot(OUT / "report-markdown.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=3388)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ui-screenshots-") as tmp:
        folder = Path(tmp)
        env = prepare(folder)
        os.environ.update({k: env[k] for k in ("DATA_DIR", "DAGSTER_HOME")})
        from resources.settings import Settings

        with dagster_dev(env, args.port, folder / "dagster-dev.log") as url:
            refresh_nights(env, Settings.from_env().today())
            chromium, websocket = start_chromium(folder / "chromium-profile")
            try:
                page = Page(websocket)
                shoot_night(page, url)
                request_id = compare(env, "Hyde Park Beanery, Austin")
                print(f"UI on {url}; comparison {request_id} done")
                shoot_report(page, url)
            finally:
                chromium.terminate()
                chromium.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
