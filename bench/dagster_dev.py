"""`dagster dev` for benchmarks and UI checks: a temporary home, its own session, a clean stop.

Started from a script (not a terminal), `dagster dev` would inherit ignored SIGINT and could not
be stopped; here it gets default signal handling and a session of its own, and stopping it
signals the whole session (webserver, daemon, code servers and any run still going).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Settings of the developer's shell that would point the server elsewhere than the temp folder.
_FOREIGN = ("REDIS_URL", "WAREHOUSE_URL", "ALERT_WEBHOOK_URL", "SERPER_API_KEY", "OPENAI_API_KEY",
            "OPENAI_BASE_URL", "SERPER_BASE_URL", "DAGSTER_HOME", "DATA_DIR")  # fmt: skip


def prepare(folder: Path, **settings: str) -> dict[str, str]:
    """The environment for a product instance living entirely in `folder`."""
    sys.path.insert(0, str(ROOT))
    from cli.home import write_instance_config

    home = folder / "dagster_home"
    write_instance_config(home)
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN}
    env.update(DATA_DIR=str(folder / "data"), DAGSTER_HOME=str(home), **settings)
    return env


def _default_signals() -> None:
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@contextmanager
def dagster_dev(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """Run `dagster dev` on 127.0.0.1:`port`; yields its URL once the webserver answers."""
    url = f"http://127.0.0.1:{port}"
    if _answers(url):
        raise RuntimeError(f"something already answers on {url}; choose another --port")
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-w", str(ROOT / "workspace.yaml"),
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_default_signals,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 90
            while not _answers(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dagster dev did not start; see {log}")
                time.sleep(0.5)
            yield url
        finally:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C to the whole session, as a terminal would; SIGKILL what is left after 20 s."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    # Children that outlive the parent (a run's worker) share its process group.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
