"""Real servers for the end-to-end tests: started on 127.0.0.1 and free ports,
with temporary data directories, stopped by process id."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import tool
from vigil import webauth


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    def __init__(self, args: list[str], cwd: Path, log: Path):
        self.args, self.cwd, self.log = args, cwd, log
        self.proc = None

    def start(self) -> "Process":
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


class NotReady(OSError):
    """A server that answers, but not yet with what was asked: 503 while it starts, or a
    body that is not JSON (Prometheus' plain-text "Service Unavailable")."""


def api_answer(req: urllib.request.Request, timeout: float = 5.0, patience: float = 120.0) -> tuple[int, object]:
    """(status, JSON body) of an API request, errors included (Prometheus explains a 400 in JSON),
    waiting up to `patience` seconds through a starting server's 503 and non-JSON answers (a busy
    machine starts servers slowly); NotReady when it never answers properly."""
    deadline = time.monotonic() + patience
    while True:
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                code, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            code, body = e.code, e.read()
        if code != 503:
            try:
                return code, json.loads(body or b"null")
            except ValueError:
                pass
        if time.monotonic() >= deadline:
            raise NotReady(f"{req.full_url}: {code} {body[:80]!r}")
        time.sleep(0.25)


def get_json(url: str, data=None, timeout: float = 5.0, patience: float = 120.0):
    """The JSON answer of `url` (POSTing `data` as JSON if given); an HTTP error other than a
    starting server's 503 raises, as urlopen does."""
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None,
                                 headers={"Content-Type": "application/json"})
    code, answer = api_answer(req, timeout, patience)
    if not 200 <= code < 300:
        raise urllib.error.HTTPError(url, code, f"{code}: {answer}", None, None)
    return answer


def wait_for(what: str, check, timeout: float, every: float = 0.25, proc: Process | None = None):
    """Poll `check()` until it returns something truthy; fail with `what` and the process log."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except OSError as e:   # not listening yet, or still starting (NotReady)
            last = e
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"{what}: {proc.args[0]} exited with {proc.proc.returncode}:\n{proc.tail()}")
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last})"
                         + (f"\n{proc.tail()}" if proc else ""))


def _web_config(basic_auth: bool) -> list[str]:
    """Opt-in: the web config `vigil secrets` wrote (webauth.py), relative to the working directory."""
    return [f"--web.config.file={webauth.WEB_CONFIG}"] if basic_auth else []


def prometheus(tree: Path, port: int, data: Path, log: Path, basic_auth: bool = False) -> Process:
    return Process([tool("prometheus"), "--config.file=prometheus.yml", f"--storage.tsdb.path={data}",
                    f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
                    "--rules.alert.resend-delay=1s", *_web_config(basic_auth)], tree / "prometheus", log)


def alertmanager(config_dir: Path, port: int, data: Path, log: Path, basic_auth: bool = False,
                 external_url: bool = True) -> Process:
    """external_url=False starts it as a user might natively: without --web.external-url, so it
    believes it is at http://HOSTNAME:port (the inventory's URLs must make the links right)."""
    # Run from its config directory: Alertmanager reads *_file paths relative to its working directory.
    return Process([tool("prometheus-alertmanager"), "--config.file=alertmanager.yml", f"--storage.path={data}",
                    f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
                    *([f"--web.external-url=http://127.0.0.1:{port}"] * external_url), *_web_config(basic_auth)],
                   config_dir, log)


ENDPOINTS = ("prometheus", "alertmanager", "grafana", "loki", "alloy", "blackbox", "node_exporter", "cadvisor",
             "pushgateway")


def native_stack(name: str, ports: dict, teams: tuple[str, ...], team: str | None = None, interval: str = "1s",
                 basic_auth: bool = False, slack: bool = False, **endpoints: int) -> str:
    """The head of a test inventory, down to `services:`, for a stack run natively on 127.0.0.1:
    Prometheus at ports["prom"], the parts named in `endpoints` (field=port) where given, every
    other part at the closed port ports["closed"]; every team pages a webhook nobody answers, or,
    with `slack`, its own Slack channel #<team>-oncall through the webhook in .env's
    <TEAM>_SLACK (slack_env()), grouped within a second.
    Without passwords (stack.basic_auth: false) unless `basic_auth`: then `vigil secrets` needs
    them in .env, and prometheus()/alertmanager() need basic_auth=True."""
    at = {field: ports["closed"] for field in ENDPOINTS} | endpoints | {"prometheus": ports["prom"]}
    pager = {t: f"{t}-oncall" if slack else "hook" for t in teams}
    lines = ["version: 1", "stack:", f"  name: {name}", f"  team: {team or teams[0]}",
             f"  scrape_interval: {interval}", f"  evaluation_interval: {interval}",
             f"  basic_auth: {str(basic_auth).lower()}", "  endpoints:",
             *(f"    {field}: 127.0.0.1:{port}" for field, port in at.items()),
             "receivers:", "  - name: hook", f'    webhook: {{url: "http://127.0.0.1:{ports["closed"]}/hook"}}',
             *(f'  - {{name: {t}-oncall, slack: {{channel: "#{t}-oncall", webhook: {_slack_variable(t)}}}}}'
               for t in teams if slack),
             *(["routing:", "  default_receiver: hook", "  timings:",
                *(f"    {s}: {{group_wait: 1s, group_interval: 1s}}" for s in ("critical", "warning"))]
               if slack else ["routing: {default_receiver: hook}"]),
             "teams:",
             *(line for t in teams for line in (f"  - name: {t}",
                                                 f"    notify: {{critical: [{pager[t]}], warning: [{pager[t]}]}}")),
             "services:"]
    return "\n".join(lines) + "\n"


def _slack_variable(team: str) -> str:
    return team.upper().replace("-", "_") + "_SLACK"


def slack_env(hook: str, teams: tuple[str, ...]) -> str:
    """The .env lines of native_stack(slack=True): team t's channel posts to {hook}/<t>."""
    return "".join(f"{_slack_variable(t)}={hook.rstrip('/')}/{t}\n" for t in teams)


@contextlib.contextmanager
def running_alertmanager(am_dir: Path, data: Path):
    """The real Alertmanager of `am_dir` on a free port, data and log under `data`: its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    am = alertmanager(am_dir, port, data / "am-data", data / "alertmanager.log").start()
    try:
        wait_for("Alertmanager ready", lambda: urllib.request.urlopen(f"{url}/-/ready", timeout=2).status == 200,
                 60, every=0.1, proc=am)
        yield url
    finally:
        am.stop()
