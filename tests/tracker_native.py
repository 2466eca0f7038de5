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
from native import Process, free_port, wait_for
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
    def __init__(self, tmp: Path, port: int | None = None):
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
                    "PYTHONPATH": str(tmp), "DJANGO_SETTINGS_MODULE": SETTINGS})
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
