"""Bugsink, the real error tracker, as a plain process: gunicorn on 127.0.0.1 and a free port,
SQLite in a temp dir, settings from the environment as in the bugsink/bugsink image (its own
docker settings template), from .venv-bugsink (`make bugsink`). One difference from the image:
events are digested in the request (snappea's TASK_ALWAYS_EAGER) instead of by a second process."""

from __future__ import annotations

import os
import secrets
import subprocess
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT
from native import Process, free_port, native_stack, slack_env, wait_for
from vigil import tracker
from vigil.inventory import Stack

VENV = Path(os.environ.get("BUGSINK_VENV", ROOT / ".venv-bugsink"))
SETTINGS = "vigil_bugsink_conf"
ADMIN_PASSWORD = secrets.token_urlsafe(12)


def _bin(name: str) -> str:
    path = VENV / "bin" / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make bugsink` (Bugsink from requirements-bugsink.txt)", pytrace=False)
    return str(path)


class Bugsink:
    def __init__(self, tmp: Path, port: int | None = None, **settings: str):
        self.tmp, self.port = tmp, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        template = next((VENV / "lib").glob("python3*/site-packages/bugsink/conf_templates/docker.py.template"),
                        None) if VENV.exists() else None
        if template is None:
            _bin("bugsink-manage")
        (tmp / f"{SETTINGS}.py").write_text(template.read_text() + (
            '\nSNAPPEA["TASK_ALWAYS_EAGER"] = True\nDATABASES["snappea"]["NAME"] = os.environ["SNAPPEA_DATABASE_PATH"]\n'))
        # The container's settings (tracker.container_env), with this machine's paths and secrets.
        env = {k: v for k, v in tracker.container_env(Stack(name="t")).items() if "${" not in v}
        env.update({"BASE_URL": self.url, "DATABASE_PATH": str(tmp / "db.sqlite3"),
                    "SNAPPEA_DATABASE_PATH": str(tmp / "snappea.sqlite3"),
                    "SECRET_KEY": secrets.token_urlsafe(50),
                    "CREATE_SUPERUSER": f"{tracker.ADMIN_EMAIL}:{ADMIN_PASSWORD}",
                    "PYTHONPATH": str(tmp), "DJANGO_SETTINGS_MODULE": SETTINGS, **settings})
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SENTRY", "DJANGO"))}, **env}
        self.proc: Process | None = None
        self.token = ""

    def manage(self, *args: str) -> str:
        r = subprocess.run([_bin("bugsink-manage"), *args], cwd=self.tmp, env=self.env, capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, f"bugsink-manage {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
        return r.stdout

    def start(self) -> "Bugsink":
        if not self.token:   # first start: the schema, the admin, one API token (as `make up` does)
            self.manage("migrate", "-v0")
            self.manage("migrate", "snappea", "--database=snappea", "-v0")
            self.manage("prestart")
            self.token = self.manage("create_auth_token").strip().splitlines()[-1]
        self.proc = Process([_bin("gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "1",
                             "--threads", "4", "bugsink.wsgi"], self.tmp, self.tmp / "bugsink.log")
        self.proc.proc = subprocess.Popen(self.proc.args, cwd=self.tmp, env=self.env,
                                          stdout=open(self.proc.log, "ab"), stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL)
        wait_for("Bugsink ready", lambda: urllib.request.urlopen(f"{self.url}/health/ready", timeout=5).status == 200,
                 120, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()

    def client(self) -> tracker.Client:
        return tracker.Client(self.url, self.token)

    def project(self, name: str, team: str = "shop") -> dict:
        """Project `name` of `team`, made through the API unless it is there."""
        c = self.client()
        teams = {t["name"]: t["id"] for t in c.all("/teams/")}
        if team not in teams:
            teams[team] = c.call("/teams/", {"name": team})["id"]
        if not any(p["name"] == name for p in c.all("/projects/")):
            c.call("/projects/", {"name": name, "team": teams[team]})
        return next(p for p in c.all("/projects/") if p["name"] == name)


# ---------------------------------------------------------------- the alert path, raise -> team's channel

PUBLIC = "http://errors.example.test"     # where people would open the tracker: the links in messages


def stack_head(ports: dict, slack: bool = False, **endpoints: int) -> str:
    """native_stack's head for teams shop and platform, with the error tracker on."""
    head = native_stack("errs", ports, ("shop", "platform"), team="platform", slack=slack, **endpoints)
    return head.replace("  endpoints:\n", f"  error_tracker: {{enabled: true, url: {PUBLIC}}}\n  endpoints:\n", 1)


class AlertPath:
    """The real Prometheus and Alertmanager with configs rendered for a one-service inventory of team
    shop, the errors exporter reading `bugsink`, and a Slack-compatible inbox for the teams' channels."""

    def __init__(self, bugsink: Bugsink, tmp: Path, service: str):
        from conftest import run_vigil
        from native import alertmanager, prometheus
        from vigil import inbox, tracker_exporter
        self.slack = inbox.serve("127.0.0.1", 0)
        ports = {k: free_port() for k in ("prom", "am", "exp", "closed")}
        self.exporter = tracker_exporter.serve(tracker_exporter.Exporter(bugsink.client(), PUBLIC),
                                               "127.0.0.1", ports["exp"], interval=0.5)
        # up (it scrapes Alertmanager's /metrics): a service that is down inhibits its other alerts
        (tmp / "inventory.yml").write_text(
            stack_head(ports, slack=True, alertmanager=ports["am"], errors_exporter=ports["exp"])
            + f'  - {{name: {service}, team: shop, kind: http, targets: ["127.0.0.1:{ports["am"]}"]}}\n')
        (tmp / ".env").write_text(slack_env(f"http://127.0.0.1:{self.slack.server_address[1]}/slack",
                                            ("shop", "platform")))
        tree = tmp / "tree"
        for args in (("generate",), ("secrets", "--env", str(tmp / ".env"))):
            r = run_vigil(*args, "-i", str(tmp / "inventory.yml"), "-o", str(tree))
            assert r.returncode == 0, r.stderr
        self.prom_url = f"http://127.0.0.1:{ports['prom']}"
        self.am = alertmanager(tree / "alertmanager", ports["am"], tmp / "am", tmp / "am.log").start()
        self.prom = prometheus(tree, ports["prom"], tmp / "prom", tmp / "prom.log").start()

    def messages(self, channel: str, alertname: str, status: str) -> list[dict]:
        """Slack attachments that reached `channel` about `alertname` in `status`."""
        out = []
        for m in self.slack.inbox.snapshot():
            p = m["payload"]
            out += [a for a in p.get("attachments", []) if p.get("channel") == channel
                    and alertname in a["title"] and f"[{status}" in a["title"]]
        return out

    def stop(self) -> None:
        for p in (self.prom, self.am):
            p.stop()
        self.exporter.shutdown()
        self.slack.shutdown()


def rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (gunicorn's master and workers)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total
