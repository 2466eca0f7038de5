"""Talking to the running stack: `vigil status`, `vigil test-notify`, `vigil reload`
(and `vigil annotate`, in annotate.py).

All go through the HTTP APIs the stack publishes on 127.0.0.1 (override with
--prometheus-url / --alertmanager-url / --grafana-url or VIGIL_PROMETHEUS_URL /
VIGIL_ALERTMANAGER_URL / VIGIL_GRAFANA_URL). Prometheus and Alertmanager ask for their
passwords (webauth.py): web_credential() reads them from the environment or .env.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from . import webauth
from .envfile import read_env
from .inventory import Inventory
from .routing import TEST_ALERT, TEST_LABEL

PROMETHEUS_URL = os.environ.get("VIGIL_PROMETHEUS_URL", "http://127.0.0.1:9090")
ALERTMANAGER_URL = os.environ.get("VIGIL_ALERTMANAGER_URL", "http://127.0.0.1:9093")
GRAFANA_URL = os.environ.get("VIGIL_GRAFANA_URL", "http://127.0.0.1:3000")
GRAFANA_TOKEN, GRAFANA_USER, GRAFANA_PASSWORD = "GRAFANA_TOKEN", "GF_SECURITY_ADMIN_USER", "GF_SECURITY_ADMIN_PASSWORD"
# Loki's ruler has no reload endpoint: it reads its rules directory again every poll interval.
LOKI_RULES_NOTE = "Loki's ruler reads loki/rules/ again by itself within a minute"


class Unreachable(Exception):
    pass


def web_credential(part: str, env_file: Path = Path(".env")):
    """(user, password) of Prometheus or Alertmanager behind basic auth (webauth.py), from the
    environment or .env (the environment wins, as in Compose); None when neither sets it."""
    password = {**read_env(env_file), **os.environ}.get(webauth.variable(part))
    return (webauth.USER, password) if password else None


def _http(url: str, payload=None, timeout: float = 10.0, credential=None):
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"}
    if credential is not None:
        headers["Authorization"] = _authorization(credential)
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as e:
        if e.code != 401:
            raise Unreachable(f"{url}: {e.code} {e.reason}") from None
        raise Unreachable(f"{url}: 401 Unauthorized (the stack's passwords are "
                          f"{' and '.join(webauth.PASSWORDS.values())} in .env or the environment)") from None
    except (urllib.error.URLError, OSError) as e:
        raise Unreachable(f"{url}: {getattr(e, 'reason', e)} (is the stack up? `make up`)") from None
    return json.loads(body) if body else None


def grafana_credential(env_file: Path):
    """A service account token, or (user, password) of .env; Unreachable when neither is set.
    The environment wins over .env, as in Compose."""
    env = {**read_env(env_file), **os.environ}
    if env.get(GRAFANA_TOKEN):
        return env[GRAFANA_TOKEN]
    if env.get(GRAFANA_PASSWORD):
        return env.get(GRAFANA_USER) or "admin", env[GRAFANA_PASSWORD]
    raise Unreachable(f"no Grafana credentials: set {GRAFANA_TOKEN} (a service account token with the Editor "
                      f"role), or {GRAFANA_PASSWORD} in {env_file}")


def _authorization(credential) -> str:
    if isinstance(credential, str):
        return f"Bearer {credential}"
    return "Basic " + base64.b64encode(":".join(credential).encode()).decode()


def _reload(url: str, credential=None) -> tuple[bool, str]:
    """POST a reload endpoint -> (done, what it said)."""
    headers = {"Authorization": _authorization(credential)} if credential is not None else {}
    req = urllib.request.Request(url, data=b"", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return True, resp.read().decode(errors="replace").strip()
    except urllib.error.HTTPError as e:   # the part is up and refused: it keeps its old config
        return False, f"{e.code}: {e.read().decode(errors='replace').strip()}"
    except (urllib.error.URLError, OSError) as e:
        return False, f"unreachable: {getattr(e, 'reason', e)} (is the stack up? `make up`)"


PARTS = ("prometheus", "alertmanager", "grafana")


def reload(parts=PARTS, prometheus: str = PROMETHEUS_URL, alertmanager: str = ALERTMANAGER_URL,
           grafana: str = GRAFANA_URL, grafana_auth=None) -> list[tuple[str, bool, str]]:
    """Applies the rendered files to the running parts in place: no restart, no data lost.
    Prometheus and Alertmanager check a new config before they take it and keep the old one
    if it is refused. Returns (part, done, detail) for each part."""
    out = []
    if "prometheus" in parts:
        out.append(("prometheus", *_reload(f"{prometheus}/-/reload", web_credential("prometheus"))))
    if "alertmanager" in parts:
        out.append(("alertmanager", *_reload(f"{alertmanager}/-/reload", web_credential("alertmanager"))))
    if "grafana" in parts and grafana_auth is None:
        out.append(("grafana", False, "no credentials"))
    elif "grafana" in parts:
        out += [(f"grafana {what}", *_reload(f"{grafana}/api/admin/provisioning/{what}/reload", grafana_auth))
                for what in ("datasources", "dashboards")]
    return out


def status(prometheus: str = PROMETHEUS_URL, alertmanager: str = ALERTMANAGER_URL) -> list[str]:
    """Targets down, firing alerts and active silences, as lines to print."""
    lines = []
    prom, am = web_credential("prometheus"), web_credential("alertmanager")
    targets = _http(f"{prometheus}/api/v1/targets?state=active", credential=prom)["data"]["activeTargets"]
    down = [t for t in targets if t["health"] != "up"]
    lines.append(f"targets: {len(targets) - len(down)} up, {len(down)} down")
    for t in down:
        lines.append(f"  down  {t['labels'].get('service', t['labels'].get('job'))}  {t['scrapeUrl']}  "
                     f"{t.get('lastError', '')}")
    alerts = [a for a in _http(f"{prometheus}/api/v1/alerts", credential=prom)["data"]["alerts"]
              if a["state"] == "firing"]
    lines.append(f"firing alerts: {len(alerts)}")
    for a in sorted(alerts, key=lambda a: (a["labels"].get("severity", ""), a["labels"].get("alertname", ""))):
        lab = a["labels"]
        lines.append(f"  {lab.get('severity', '?'):8} {lab.get('alertname')}  service={lab.get('service', '-')} "
                     f"team={lab.get('team', '-')}  {a.get('annotations', {}).get('summary', '')}")
    silences = [s for s in _http(f"{alertmanager}/api/v2/silences", credential=am) if s["status"]["state"] == "active"]
    lines.append(f"silences: {len(silences)} active")
    for s in silences:
        matchers = ",".join(f"{m['name']}{'=' if m.get('isEqual', True) else '!='}{m['value']}" for m in s["matchers"])
        lines.append(f"  {matchers}  until {s['endsAt']}  by {s.get('createdBy', '?')}: {s.get('comment', '')}")
    return lines


def test_alerts(inventory: Inventory, receiver: str | None = None) -> list[dict]:
    """One synthetic alert per receiver (or for `receiver`); the routing tree's
    test route delivers each to its receiver only."""
    names = [receiver] if receiver else [r.name for r in inventory.receivers]
    now = dt.datetime.now(dt.timezone.utc)
    return [{"labels": {"alertname": TEST_ALERT, TEST_LABEL: name, "service": f"vigil-test-{name}",
                        "team": "vigil", "severity": "warning"},
             "annotations": {"summary": f"Test notification for receiver {name}",
                             "description": "Sent by `vigil test-notify`: if you read this, delivery works.",
                             "runbook_url": inventory.stack.grafana_url, "dashboard_url": inventory.stack.grafana_url},
             "startsAt": now.isoformat(), "endsAt": (now + dt.timedelta(minutes=5)).isoformat()}
            for name in names]


def send(alerts: list[dict], alertmanager: str = ALERTMANAGER_URL) -> None:
    _http(f"{alertmanager}/api/v2/alerts", alerts, credential=web_credential("alertmanager"))
