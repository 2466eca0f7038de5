"""Talking to the running stack: `vigil status`, `vigil test-notify`, `vigil reload`
(and `vigil annotate`, in annotate.py).

Where: each part's URL is the --prometheus-url / --alertmanager-url / --grafana-url
flag, else VIGIL_PROMETHEUS_URL / VIGIL_ALERTMANAGER_URL / VIGIL_GRAFANA_URL, else the
inventory's (Stack.external_url: stack.*_url, or the endpoint as this machine reaches it).

How: every request has one deadline for the whole exchange (a server trickling bytes
cannot hang a command), and an answer that is not what the API gives (an HTML page, a
proxy's login, a truncated body) is a clear error, never a traceback.

Who: Prometheus and Alertmanager ask for their passwords (webauth.py): web_credential()
reads them from the environment or .env; Grafana's come from grafana_credential().
"""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.request
from pathlib import Path
from typing import NamedTuple

from . import webauth
from .exchange import Refused, Unreachable, exchange
from .envfile import GRAFANA_DEFAULT_USER, GRAFANA_PASSWORD, GRAFANA_USER, environment
from .inventory import Inventory
from .routing import TEST_ALERT, TEST_LABEL

ENV = {"prometheus": "VIGIL_PROMETHEUS_URL", "alertmanager": "VIGIL_ALERTMANAGER_URL",
       "grafana": "VIGIL_GRAFANA_URL"}
GRAFANA_TOKEN = "GRAFANA_TOKEN"
# Loki's ruler has no reload endpoint: it reads its rules directory again every poll interval.
LOKI_RULES_NOTE = "Loki's ruler reads loki/rules/ again by itself within a minute"
DEADLINE = 15.0            # seconds for one whole request, connect to last byte

# `vigil status` exit codes (README): the worst thing it saw.
EXIT_OK, EXIT_UNREACHABLE, EXIT_TARGETS_DOWN, EXIT_CRITICAL = 0, 1, 3, 4


class NotRun(Unreachable):
    """The inventory says the part is not run here (a null endpoint) and no flag or variable says
    where it is: there is nothing to reach."""


def web_credential(part: str, env_file: Path = Path(".env")):
    """(user, password) of Prometheus or Alertmanager behind basic auth (webauth.py), from the
    environment or .env (the environment wins, as in Compose); None when neither sets it."""
    password = environment(env_file).get(webauth.variable(part))
    return (webauth.USER, password) if password else None


def url(part: str, flag: str | None, inventory: Inventory | None) -> str:
    """Base URL of a part: the flag, else the environment, else the inventory (stack.<part>_url,
    else the endpoint, else the Compose default); NotRun for a Grafana the inventory does not run."""
    given = flag or os.environ.get(ENV[part])
    if given:
        return given.rstrip("/")
    if inventory is None:
        raise Unreachable(f"no URL for {part}: give --{part}-url or {ENV[part]}, or an inventory (-i)")
    if part == "grafana" and not inventory.stack.has_grafana:
        raise NotRun(f"grafana is not run here (stack.endpoints.grafana is null): give --grafana-url or "
                     f"{ENV[part]}, or set stack.grafana_url")
    return inventory.stack.external_url(part)


def _what(body: bytes) -> str:
    text = " ".join(body[:120].decode(errors="replace").split())
    return f"{text!r}" if text else "an empty body"


def _http(url: str, payload=None, credential=None, deadline: float = DEADLINE):
    """JSON in, JSON out; Unreachable for anything else."""
    data = json.dumps(payload).encode() if payload is not None else None
    req = _request(url, data, credential, {"Content-Type": "application/json", "Accept": "application/json"})
    status, kind, body = exchange(req, deadline)
    if status == 401:
        raise Refused(f"{url}: 401 Unauthorized (the stack's passwords are "
                      f"{' and '.join(webauth.PASSWORDS.values())} in .env or the environment)", status, _what(body))
    if not 200 <= status < 300:
        raise Refused(f"{url}: answered {status}: {_what(body)}", status, _what(body))
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise Unreachable(f"{url}: answered {status} with {kind or 'no content type'}, not JSON: {_what(body)} "
                          f"(is this URL the part's own API? check the flag, the environment or "
                          f"stack.endpoints)") from None


def grafana_credential(env_file: Path):
    """A service account token, or (user, password) of .env; Unreachable when neither is set.
    The environment wins over .env, as in Compose."""
    env = environment(env_file)
    if env.get(GRAFANA_TOKEN):
        return env[GRAFANA_TOKEN]
    if env.get(GRAFANA_PASSWORD):
        return env.get(GRAFANA_USER) or GRAFANA_DEFAULT_USER, env[GRAFANA_PASSWORD]
    raise Unreachable(f"no Grafana credentials: set {GRAFANA_TOKEN} (a service account token with the Editor "
                      f"role), or {GRAFANA_PASSWORD} in {env_file}")


def _request(url: str, data: bytes | None, credential, headers: dict) -> urllib.request.Request:
    """A GET (no data) or POST, with the credential's Authorization: a token (str) as Bearer,
    (user, password) as basic auth."""
    if isinstance(credential, str):
        headers = {**headers, "Authorization": f"Bearer {credential}"}
    elif credential is not None:
        headers = {**headers, "Authorization": webauth.header(credential[1], credential[0])}
    return urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")


def _reload(url: str, credential=None) -> tuple[bool, str]:
    """POST a reload endpoint -> (done, what it said). Done is a 2xx that is not a web page:
    a proxy's login page answering 200 reloads nothing."""
    try:
        status, kind, body = exchange(_request(url, b"", credential, {}), 30.0)
    except Unreachable as e:
        return False, f"unreachable: {e}"
    said = body.decode(errors="replace").strip()
    if not 200 <= status < 300:     # the part is up and refused: it keeps its old config
        return False, f"{status}: {said}"
    if kind.startswith("text/html") or said.startswith("<"):
        return False, f"answered {status} with a web page, not the reload API: {_what(body)}"
    return True, said


def refused(part: str, said: str) -> bool:
    """A reload of Prometheus or Alertmanager answered with an error status (_reload's "500: ..."):
    the part is up, did not take the new files and runs its old config."""
    return part in ("prometheus", "alertmanager") and said.partition(":")[0].isdigit()


PARTS = ("prometheus", "alertmanager", "grafana")


class Reloaded(NamedTuple):
    part: str       # one of PARTS
    what: str       # as printed: "prometheus", "grafana dashboards"
    done: bool
    said: str       # the part's answer, or why it was not reached


def reload(parts, prometheus: str, alertmanager: str, grafana: str | None = None,
           grafana_auth=None, env_file: Path = Path(".env")) -> list[Reloaded]:
    """Applies the rendered files to the running parts in place: no restart, no data lost.
    Prometheus and Alertmanager check a new config before they take it and keep the old one
    if it is refused; their passwords come from web_credential(env_file)."""
    out = []
    for part, where in (("prometheus", prometheus), ("alertmanager", alertmanager)):
        if part in parts:
            out.append(Reloaded(part, part, *_reload(f"{where}/-/reload", web_credential(part, env_file))))
    if "grafana" in parts and grafana_auth is None:
        out.append(Reloaded("grafana", "grafana", False, "no credentials"))
    elif "grafana" in parts:
        out += [Reloaded("grafana", f"grafana {what}",
                         *_reload(f"{grafana}/api/admin/provisioning/{what}/reload", grafana_auth))
                for what in ("datasources", "dashboards")]
    return out


_OPS = {(True, False): "=", (False, False): "!=", (True, True): "=~", (False, True): "!~"}


def _matcher(m: dict) -> str:
    """A silence's matcher as Alertmanager's own syntax writes it: regexes quoted, with =~ or !~."""
    regex = bool(m.get("isRegex"))
    op = _OPS[(m.get("isEqual", True), regex)]
    return f'{m["name"]}{op}{json.dumps(m["value"])}' if regex else f"{m['name']}{op}{m['value']}"


def _held(prom_labels: dict, am_alerts: list) -> str:
    """' [silenced]' or ' [inhibited]' when Alertmanager holds the alert back. Alertmanager's
    copy also carries the external labels, hence a subset match."""
    for a in am_alerts:
        if prom_labels.items() <= a["labels"].items():
            st = a.get("status", {})
            if st.get("silencedBy"):
                return " [silenced]"
            if st.get("inhibitedBy"):
                return " [inhibited]"
    return ""


def status(prometheus: str, alertmanager: str) -> tuple[list[str], int]:
    """Targets down, firing alerts (marked when silenced or inhibited) and active silences,
    as lines to print, and the exit code (EXIT_*)."""
    try:
        return _status(prometheus, alertmanager)
    except (KeyError, TypeError, AttributeError, IndexError):
        raise Unreachable(f"{prometheus} or {alertmanager}: the answers are JSON but not Prometheus' and "
                          f"Alertmanager's API (check the URLs)") from None


def _status(prometheus: str, alertmanager: str) -> tuple[list[str], int]:
    lines, code = [], EXIT_OK
    prom, am = web_credential("prometheus"), web_credential("alertmanager")
    targets = _http(f"{prometheus}/api/v1/targets?state=active", credential=prom)["data"]["activeTargets"]
    down = [t for t in targets if t["health"] != "up"]
    lines.append(f"targets: {len(targets) - len(down)} up, {len(down)} down")
    for t in down:
        lines.append(f"  down  {t['labels'].get('service', t['labels'].get('job'))}  {t['scrapeUrl']}  "
                     f"{t.get('lastError', '')}")
    if down:
        code = EXIT_TARGETS_DOWN
    alerts = [a for a in _http(f"{prometheus}/api/v1/alerts", credential=prom)["data"]["alerts"]
              if a["state"] == "firing"]
    held = _http(f"{alertmanager}/api/v2/alerts", credential=am)
    lines.append(f"firing alerts: {len(alerts)}")
    for a in sorted(alerts, key=lambda a: (a["labels"].get("severity", ""), a["labels"].get("alertname", ""))):
        lab = a["labels"]
        mark = _held(lab, held)
        if lab.get("severity") == "critical" and not mark:
            code = EXIT_CRITICAL
        lines.append(f"  {lab.get('severity', '?'):8} {lab.get('alertname')}{mark}  service={lab.get('service', '-')} "
                     f"team={lab.get('team', '-')}  {a.get('annotations', {}).get('summary', '')}")
    silences = [s for s in _http(f"{alertmanager}/api/v2/silences", credential=am) if s["status"]["state"] == "active"]
    lines.append(f"silences: {len(silences)} active")
    for s in silences:
        matchers = ",".join(_matcher(m) for m in s["matchers"])
        lines.append(f"  {matchers}  until {s['endsAt']}  by {s.get('createdBy', '?')}: {s.get('comment', '')}")
    return lines, code


TEST_LASTS = dt.timedelta(minutes=5)


def test_alerts(inventory: Inventory, receiver: str | None = None) -> list[dict]:
    """One synthetic alert per receiver (or for `receiver`); the routing tree's
    test route delivers each to its receiver only. It ends by itself after TEST_LASTS,
    which the message announces, so the [RESOLVED] that follows surprises no one."""
    names = [receiver] if receiver else [r.name for r in inventory.receivers]
    now = dt.datetime.now(dt.timezone.utc)
    # Grafana's front page stands in for the runbook and dashboard; without a Grafana, no such links.
    grafana = inventory.stack.external_url("grafana") if inventory.stack.has_grafana else None
    links = {"runbook_url": grafana, "dashboard_url": grafana} if grafana else {}
    minutes = int(TEST_LASTS.total_seconds() // 60)
    return [{"labels": {"alertname": TEST_ALERT, TEST_LABEL: name, "service": f"vigil-test-{name}",
                        "team": "vigil", "severity": "warning"},
             "annotations": {"summary": f"Test notification for receiver {name}",
                             "description": f"Sent by `vigil test-notify`: if you read this, delivery works. "
                                            f"It resolves by itself in {minutes} minutes: a resolved message "
                                            f"follows, and needs nothing from you.", **links},
             "startsAt": now.isoformat(), "endsAt": (now + TEST_LASTS).isoformat()}
            for name in names]


def send(alerts: list[dict], alertmanager: str) -> None:
    _http(f"{alertmanager}/api/v2/alerts", alerts, credential=web_credential("alertmanager"))
