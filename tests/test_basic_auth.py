"""Prometheus and Alertmanager behind basic auth (stack.basic_auth, webauth.py), with the
real Debian binaries (Prometheus 2.42, Alertmanager 0.25) on 127.0.0.1, started with the
web configs `vigil secrets` writes: nobody gets in without the password — not a GET, not
/-/reload, /-/quit or a 30-day silence — and with it everything works: Prometheus scrapes
both itself and Alertmanager and delivers its alerts through basic auth, and the `vigil`
commands read the passwords from the environment or .env.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import bcrypt
import pytest
import yaml

from conftest import ROOT, run_vigil
from native import alertmanager, free_port, native_stack, prometheus, wait_for
from vigil import check, live, webauth
from vigil.render import compose

SERVICES = """\
  - name: worker
    team: platform
    kind: job
    targets: ["127.0.0.1:{closed}"]
"""
QUIET_SILENCE = {"matchers": [{"name": "alertname", "value": ".+", "isRegex": True}],
                 "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2099-01-31T00:00:00Z",
                 "createdBy": "intruder", "comment": "shh"}


def call(url: str, method: str = "GET", credential=None, payload=None) -> tuple[int, bytes]:
    """-> (status, body); an HTTP error is a status like any other."""
    data = json.dumps(payload).encode() if payload is not None else (b"" if method == "POST" else None)
    headers = {"Content-Type": "application/json"}
    if credential is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(credential).encode()).decode()
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def query(env: dict, expr: str) -> list:
    status, body = call(f"{env['prom_url']}/api/v1/query?{urllib.parse.urlencode({'query': expr})}",
                        credential=env["prom_auth"])
    assert status == 200, body
    return json.loads(body)["data"]["result"]


def vigil_env(passwords: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in webauth.PASSWORDS.values()}
    return env | passwords


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    ports = {k: free_port() for k in ("prom", "am", "closed")}
    inventory = tmp / "inventory.yml"
    inventory.write_text(native_stack("auth", ports, ("platform",), basic_auth=True, alertmanager=ports["am"])
                         + SERVICES.format(**ports))
    passwords = {v: secrets.token_urlsafe(18) for v in webauth.PASSWORDS.values()}
    (tmp / ".env").write_text("".join(f"{k}={v}\n" for k, v in passwords.items()))
    tree = tmp / "tree"
    for args in (("generate",), ("secrets", "--env", str(tmp / ".env"))):
        r = run_vigil(*args, "-i", str(inventory), "-o", str(tree))
        assert r.returncode == 0, r.stdout + r.stderr
    am = alertmanager(tree / "alertmanager", ports["am"], tmp / "am-data", tmp / "am.log", basic_auth=True).start()
    prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prom.log", basic_auth=True).start()
    env = {"tmp": tmp, "tree": tree, "inventory": inventory, "passwords": passwords, "prom": prom, "am": am,
           "prom_url": f"http://127.0.0.1:{ports['prom']}", "am_url": f"http://127.0.0.1:{ports['am']}",
           "prom_auth": (webauth.USER, passwords[webauth.variable("prometheus")]),
           "am_auth": (webauth.USER, passwords[webauth.variable("alertmanager")])}
    try:
        wait_for("Alertmanager ready (with the password)",
                 lambda: call(f"{env['am_url']}/-/ready", credential=env["am_auth"])[0] == 200, 60, proc=am)
        wait_for("Prometheus ready (with the password)",
                 lambda: call(f"{env['prom_url']}/-/ready", credential=env["prom_auth"])[0] == 200, 60, proc=prom)
        yield env
    finally:
        for p in (prom, am):
            p.stop()


# ---------------------------------------------------------------- what `vigil secrets` wrote


def test_secrets_writes_web_configs_and_password_files_for_their_owner_only(stack):
    tree, passwords = stack["tree"], stack["passwords"]
    for part in webauth.PARTS:
        folder = tree / webauth.folder(part)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        web = tree / part / webauth.WEB_CONFIG
        text = web.read_text()
        hashed = yaml.safe_load(text)["basic_auth_users"][webauth.USER]
        assert bcrypt.checkpw(passwords[webauth.variable(part)].encode(), hashed.encode())
        assert passwords[webauth.variable(part)] not in text   # a hash, not the password
        for p in folder.iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    # Prometheus reads what it sends from files named in prometheus.yml, relative to it
    for part in webauth.PARTS:
        assert (tree / "prometheus" / webauth.password_file(part)).read_text() == passwords[webauth.variable(part)]
    # and no rendered file holds a password or a hash
    for path in tree.rglob("*"):
        if path.is_file() and webauth.SECRETS not in path.relative_to(tree).parts:
            content = path.read_bytes()
            assert not any(pw.encode() in content for pw in passwords.values()), path
            assert b"$2b$" not in content, path


def _web_config_check(tree: Path) -> tuple[str, bool, str]:
    """`vigil check`'s web-config step (it comes before the slow rule tests; the rest is not run)."""
    return next(c for c in check.checks(tree) if "web-config" in c[0])


def test_vigil_check_runs_promtool_check_web_config(stack, tmp_path):
    what, ok, output = _web_config_check(stack["tree"])
    assert what == "promtool check web-config (prometheus, alertmanager)" and ok, output
    # a broken hash is caught before any part reads it
    broken = tmp_path / "tree"
    subprocess.run(["cp", "-a", str(stack["tree"]), str(broken)], check=True)
    (broken / "alertmanager" / webauth.WEB_CONFIG).write_text("basic_auth_users:\n  vigil: not-a-hash\n")
    what, ok, output = _web_config_check(broken)
    assert not ok and "bcrypt" in output, output


def test_secrets_keeps_a_matching_hash_and_refuses_without_the_passwords(stack, tmp_path):
    tree = tmp_path / "tree"
    subprocess.run(["cp", "-a", str(stack["tree"]), str(tree)], check=True)
    before = {p: (tree / p / webauth.WEB_CONFIG).read_bytes() for p in webauth.PARTS}
    r = run_vigil("secrets", "-i", str(stack["inventory"]), "--env", str(stack["tmp"] / ".env"), "-o", str(tree))
    assert r.returncode == 0, r.stderr
    assert {p: (tree / p / webauth.WEB_CONFIG).read_bytes() for p in webauth.PARTS} == before   # same salt
    # without the passwords: exit 2, each one named with who needs it, nothing written
    (tmp_path / "empty.env").write_text("")
    r = subprocess.run([sys.executable, "-m", "vigil", "secrets", "-i", str(stack["inventory"]),
                        "--env", str(tmp_path / "empty.env"), "-o", str(tmp_path / "none")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120, env=vigil_env({}))
    assert r.returncode == 2, r.stdout + r.stderr
    for part in webauth.PARTS:
        assert f"{webauth.variable(part)} is not set" in r.stderr, r.stderr
    assert not (tmp_path / "none").exists()
    # a password Loki's -config.expand-env would paste into YAML as something else: refused, located
    bad = {webauth.variable("prometheus"): "short1", webauth.variable("alertmanager"): "a password: with # in it"}
    r = subprocess.run([sys.executable, "-m", "vigil", "secrets", "-i", str(stack["inventory"]),
                        "--env", str(tmp_path / "empty.env"), "-o", str(tmp_path / "none")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120, env=vigil_env(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stdout + r.stderr
    for variable in bad:
        assert f"{tmp_path / 'empty.env'}: {variable}: use 16 or more letters, digits" in r.stderr, r.stderr
    assert not (tmp_path / "none").exists()


def test_the_compose_healthchecks_pass_with_the_header_file_and_fail_without(stack, tmp_path):
    """The healthcheck command docker-compose.yml gives each part, run here by sh with wget (GNU's
    here, busybox's in the images: the same -q -O --header), its container paths mapped to the tree."""
    model = yaml.safe_load((stack["tree"] / compose.PATH).read_text())
    for part, directory, url in (("prometheus", compose.PROMETHEUS_DIR, stack["prom_url"]),
                                 ("alertmanager", compose.ALERTMANAGER_DIR, stack["am_url"])):
        kind, command = model["services"][part]["healthcheck"]["test"]
        assert kind == "CMD-SHELL"
        here = (command.replace("$$", "$").replace(directory, str(stack["tree"] / part))
                .replace(f"http://127.0.0.1:{compose.port(part)}", url))
        r = subprocess.run(["sh", "-c", here], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (here, r.stderr)
        wrong = here.replace(str(stack["tree"] / part / webauth.AUTHORIZATION), str(tmp_path / "none"))
        assert subprocess.run(["sh", "-c", wrong], capture_output=True, timeout=60).returncode != 0


# ---------------------------------------------------------------- nobody in without the password


@pytest.mark.parametrize("part, method, path, payload", [
    ("prom", "GET", "/api/v1/query?query=up", None),
    ("prom", "GET", "/-/ready", None),
    ("prom", "GET", "/metrics", None),
    ("prom", "POST", "/-/reload", None),
    ("prom", "POST", "/-/quit", None),
    ("prom", "POST", "/api/v1/admin/tsdb/delete_series?match[]=up", None),
    ("am", "GET", "/api/v2/silences", None),
    ("am", "POST", "/api/v2/silences", QUIET_SILENCE),
    ("am", "POST", "/api/v2/alerts", [{"labels": {"alertname": "Fake"}}]),
    ("am", "POST", "/-/reload", None),
    ("am", "POST", "/-/quit", None),
])
@pytest.mark.parametrize("who", ["nobody", "wrong password", "the other part's password"])
def test_requests_without_the_password_get_401(stack, part, method, path, payload, who):
    other = {"prom": stack["am_auth"], "am": stack["prom_auth"]}[part]
    credential = {"nobody": None, "wrong password": (webauth.USER, "guess"),
                  "the other part's password": other}[who]
    status, _ = call(stack[f"{part}_url"] + path, method, credential, payload)
    assert status == 401, (part, method, path, who, status)


def test_refused_requests_changed_nothing(stack):
    """After every /-/quit and silence attempt above (whatever order pytest ran them in):
    both still run, and no silence exists."""
    for proc in (stack["prom"], stack["am"]):
        assert proc.proc.poll() is None, proc.tail()
    status, body = call(f"{stack['am_url']}/api/v2/silences", credential=stack["am_auth"])
    assert status == 200 and not [s for s in json.loads(body) if s["createdBy"] == "intruder"]


# ---------------------------------------------------------------- with the password, everything works


def test_with_the_password_the_apis_and_lifecycle_endpoints_work(stack):
    assert call(f"{stack['prom_url']}/-/reload", "POST", stack["prom_auth"])[0] == 200
    assert call(f"{stack['am_url']}/-/reload", "POST", stack["am_auth"])[0] == 200
    silence = {**QUIET_SILENCE, "matchers": [{"name": "service", "value": "nothing-here", "isRegex": False}],
               "createdBy": "test"}
    status, body = call(f"{stack['am_url']}/api/v2/silences", "POST", stack["am_auth"], silence)
    assert status == 200, body
    ident = json.loads(body)["silenceID"]
    assert call(f"{stack['am_url']}/api/v2/silence/{ident}", "DELETE", stack["am_auth"])[0] == 200


def test_prometheus_scrapes_itself_and_alertmanager_through_basic_auth(stack):
    def up():
        return {r["metric"]["job"]: r["value"][1] for r in query(stack, 'up{job=~"prometheus|alertmanager"}')}
    wait_for("both self-scrapes up", lambda: up() == {"prometheus": "1", "alertmanager": "1"}, 60,
             proc=stack["prom"])


def test_prometheus_delivers_alerts_to_alertmanager_through_basic_auth(stack):
    def watchdog():
        status, body = call(f"{stack['am_url']}/api/v2/alerts?filter=alertname%3DWatchdog", credential=stack["am_auth"])
        return status == 200 and json.loads(body)
    wait_for("Watchdog delivered to Alertmanager", watchdog, 90, proc=stack["prom"])
    # Read over the last minute of self-scrapes: the delivery is counted by the next scrape, and one
    # scrape timing out on a busy machine makes every series stale for an instant query.
    def last(metric: str) -> dict:
        return {r["metric"].get("alertmanager", ""): float(r["value"][1])
                for r in query(stack, f"max_over_time({metric}[1m])")}
    wait_for("the delivery counted by the self-scrape",
             lambda: sum(last("prometheus_notifications_sent_total").values()) > 0, 60, proc=stack["prom"])
    errors = last("prometheus_notifications_errors_total")
    assert errors and not any(errors.values()), errors
    assert last("prometheus_notifications_alertmanagers_discovered") == {"": 1}


def test_vigil_commands_take_the_passwords_from_the_environment(stack, tmp_path):
    args = ["--prometheus-url", stack["prom_url"], "--alertmanager-url", stack["am_url"]]

    def vigil(*argv, passwords):
        return subprocess.run([sys.executable, "-m", "vigil", *argv], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120, env=vigil_env(passwords))
    r = vigil("status", *args, passwords=stack["passwords"])
    # exit 3: the parts at the closed port are down (status exits by what it sees; 1 would be unreachable)
    assert r.returncode == 3 and "targets:" in r.stdout and "silences:" in r.stdout, r.stdout + r.stderr
    r = vigil("test-notify", "-i", str(stack["inventory"]), "--alertmanager-url", stack["am_url"],
              passwords=stack["passwords"])
    assert r.returncode == 0 and "sent" in r.stdout, r.stdout + r.stderr
    # without them (no .env in tmp_path either): a clear 401 naming the variables, no traceback
    r = vigil("status", *args, passwords={})
    assert r.returncode == 1 and "401 Unauthorized" in r.stderr, r.stdout + r.stderr
    assert webauth.variable("prometheus") in r.stderr and "Traceback" not in r.stderr
    # .env in the working directory works as well
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in stack["passwords"].items()))
    r = vigil("status", *args, passwords={})
    assert r.returncode == 3, r.stdout + r.stderr


def test_vigil_reload_through_basic_auth(stack, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)   # no .env here: the environment alone
    for variable, password in stack["passwords"].items():
        monkeypatch.setenv(variable, password)
    done = live.reload(("prometheus", "alertmanager"), stack["prom_url"], stack["am_url"])
    assert [(r.part, r.done) for r in done] == [("prometheus", True), ("alertmanager", True)], done
    for variable in stack["passwords"]:
        monkeypatch.delenv(variable)
    done = live.reload(("prometheus", "alertmanager"), stack["prom_url"], stack["am_url"])
    assert [(r.part, r.done, r.said[:3]) for r in done] == [("prometheus", False, "401"),
                                                                 ("alertmanager", False, "401")], done
    # `vigil reload --env FILE`: the passwords come from that file, not from a .env here
    done = live.reload(("prometheus", "alertmanager"), stack["prom_url"], stack["am_url"],
                       env_file=stack["tmp"] / ".env")
    assert [(r.part, r.done) for r in done] == [("prometheus", True), ("alertmanager", True)], done


# ---------------------------------------------------------------- last: a new password, no restart


def test_a_changed_password_applies_without_a_restart(stack):
    """Both parts read their web config on every request, Prometheus its password files on every
    scrape: `vigil secrets` with new passwords locks the old ones out at once."""
    new = {v: secrets.token_urlsafe(18) for v in webauth.PASSWORDS.values()}
    (stack["tmp"] / ".env").write_text("".join(f"{k}={v}\n" for k, v in new.items()))
    r = run_vigil("secrets", "-i", str(stack["inventory"]), "--env", str(stack["tmp"] / ".env"),
                  "-o", str(stack["tree"]))
    assert r.returncode == 0, r.stderr
    old_prom, old_am = stack["prom_auth"], stack["am_auth"]
    stack["prom_auth"] = (webauth.USER, new[webauth.variable("prometheus")])
    stack["am_auth"] = (webauth.USER, new[webauth.variable("alertmanager")])
    assert call(f"{stack['prom_url']}/api/v1/query?query=up", credential=old_prom)[0] == 401
    assert call(f"{stack['am_url']}/api/v2/silences", credential=old_am)[0] == 401
    assert call(f"{stack['am_url']}/api/v2/silences", credential=stack["am_auth"])[0] == 200
    # the self-scrapes keep working with the new password files: samples newer than the change
    changed = time.time()   # the same clock as Prometheus': this machine's
    wait_for("self-scrapes up after the change", lambda: {
        r["metric"]["job"] for r in query(stack, 'up{job=~"prometheus|alertmanager"} == 1 and '
                                                 f'timestamp(up) > {changed}')} == {"prometheus", "alertmanager"},
        60, proc=stack["prom"])
    assert stack["prom"].proc.poll() is None and stack["am"].proc.poll() is None
