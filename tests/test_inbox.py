"""The inbox and the chats it stands in for: Slack's mrkdwn and Discord's and Mattermost's
Markdown rendered as each chat shows them, checked in real headless Chromium; Discord and
Mattermost receivers end to end through the real Alertmanager; and the inbox's limits
against a hostile neighbour (issue 12, item 7).

UPDATE_SCREENSHOTS=1 rewrites docs/inbox-firing.png and docs/inbox-resolved.png from the
real notifications of this test run."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run_vigil, tool
from native import alertmanager, free_port, get_json, wait_for
from vigil import inbox

UPDATE = os.environ.get("UPDATE_SCREENSHOTS") == "1"


# ---------------------------------------------------------------- formatting, as the chat shows it

@pytest.mark.parametrize("text, html", [
    ("*Service:* checkout", "<b>Service:</b> checkout"),
    ("_slow_ and ~gone~", "<i>slow</i> and <s>gone</s>"),
    ("run `make up` now", "run <code>make up</code> now"),
    ("```\nline *1*\nline 2\n```", "<pre>line *1*\nline 2</pre>"),
    ("<https://example.com/a?b=1&c=2|the runbook>", '<a target="_blank" rel="noopener noreferrer" '
                                                    'href="https://example.com/a?b=1&amp;c=2">the runbook</a>'),
    ("<!here> <@U123|ana> <#C1|ops>", '<span class="mention">@here</span> <span class="mention">@ana</span> '
                                      '<span class="mention">#ops</span>'),
    (":fire: :white_check_mark: :warning: :nosuch:", "🔥 ✅ ⚠️ :nosuch:"),
    ("• *one*\n• two", "<ul><li><b>one</b></li><li>two</li></ul>"),
    ("a*b*c snake_case_name 2*3*4", "a*b*c snake_case_name 2*3*4"),     # no marks inside words
    ("&lt;b&gt; <b>x</b> & <script>", "&lt;b&gt; &lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;"),
    ("<javascript:alert(1)|x>", "&lt;javascript:alert(1)|x&gt;"),
])
def test_slack_mrkdwn(text, html):
    assert html in inbox.mrkdwn(text, "slack"), inbox.mrkdwn(text, "slack")


@pytest.mark.parametrize("text, html", [
    ("**Service:** checkout", "<b>Service:</b> checkout"),
    ("*slow* _slow_ ~~gone~~", "<i>slow</i> <i>slow</i> <s>gone</s>"),
    ("[Silence](http://127.0.0.1:9093/#/silences/new?filter=%7B%7D)",
     'href="http://127.0.0.1:9093/#/silences/new?filter=%7B%7D">Silence</a>'),
    ("[x](javascript:alert(1))", 'href="#">x</a>'),
    ("- a\n- b", "<ul><li>a</li><li>b</li></ul>"),
])
def test_discord_and_mattermost_markdown(text, html):
    for chat in ("discord", "mattermost"):
        assert html in inbox.mrkdwn(text, chat), inbox.mrkdwn(text, chat)


def test_colours_come_from_a_fixed_set():
    hostile = "red;position:fixed;inset:0;background:url(http://evil.example/x.png)"
    for color, shown in (("danger", "#d40e0d"), ("good", "#2eb67d"), ("#123abc", "#123abc"), (hostile, "#c0c0c0"),
                         ('"><script>', "#c0c0c0"), ("#12345g", "#c0c0c0")):
        page = inbox.page([{"path": "/slack/x", "received": 0, "payload": {"attachments": [
            {"color": color, "text": "t"}]}}])
        assert f"border-left-color:{shown}\"" in page, (color, page)
        assert "evil.example" not in page and "<script>" not in page


def test_discord_and_mattermost_show_no_slack_buttons():
    payload = {"attachments": [{"title": "t", "text": "x", "actions": [{"type": "button", "text": "Runbook",
                                                                        "url": "https://r.example/"}]}]}
    for path, shown in (("/slack/x", True), ("/discord/x/slack", False), ("/mattermost/x", False)):
        page = inbox.page([{"path": path, "received": 0, "payload": payload}])
        assert ('class="button"' in page) == shown, path


# ---------------------------------------------------------------- a hostile neighbour

@pytest.fixture
def server():
    s = inbox.serve("127.0.0.1", 0, allow_hosts=["inbox.lab.internal"])
    try:
        yield s, f"http://127.0.0.1:{s.server_address[1]}"
    finally:
        s.shutdown()
        s.server_close()


def _post(url: str, body: bytes, headers: dict | None = None) -> int:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_storage_is_bounded_by_count_and_bytes_oldest_dropped():
    box = inbox.Inbox(max_messages=5, max_bytes=1000)
    for i in range(8):
        box.add("/slack/x", {"text": str(i)}, 10)
    assert [m["payload"]["text"] for m in box.snapshot()] == ["3", "4", "5", "6", "7"]
    for i in range(3):
        box.add("/slack/x", {"text": f"big{i}"}, 400)
    # 6, 7 and big0 go too: 10 + 10 + 400 + 400 + 400 would pass 1000
    assert [m["payload"]["text"] for m in box.snapshot()] == ["big1", "big2"]


def test_many_large_messages_keep_the_page_small(server):
    s, url = server
    big = json.dumps({"text": "x" * (inbox.MAX_BODY - 100)}).encode()
    for _ in range(12):
        assert _post(f"{url}/slack/x", big) == 200
    with urllib.request.urlopen(f"{url}/", timeout=30) as r:
        page = r.read()
    assert len(page) < inbox.MAX_STORED * 1.5, len(page)
    assert len(s.inbox.snapshot()) == inbox.MAX_STORED // len(big)


def test_deep_json_is_refused_not_a_recursion_error(server):
    s, url = server
    assert _post(f"{url}/slack/x", b"[" * 100_000 + b"]" * 100_000) == 400
    assert _post(f"{url}/slack/x", json.dumps({"text": "still up"}).encode()) == 200


def test_unknown_hosts_and_other_origins_are_refused(server):
    s, url = server
    port = s.server_address[1]
    ok = json.dumps({"text": "hi"}).encode()
    assert _post(f"{url}/slack/x", ok, {"Host": "rebind.evil.example"}) == 421
    assert _post(f"{url}/slack/x", ok, {"Origin": "http://evil.example"}) == 403
    assert _post(f"{url}/slack/x", ok, {"Host": f"inbox:{port}"}) == 200               # a Compose service name
    assert _post(f"{url}/slack/x", ok, {"Host": f"inbox.lab.internal:{port}"}) == 200  # --allow-host
    assert _post(f"{url}/slack/x", ok, {"Origin": f"http://127.0.0.1:{port}"}) == 200  # its own page
    req = urllib.request.Request(f"{url}/", headers={"Host": "rebind.evil.example"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 421
    assert [m["payload"]["text"] for m in s.inbox.snapshot()] == ["hi"] * 3


def test_idle_connections_are_closed(server):
    s, url = server
    with socket.create_connection(s.server_address, timeout=inbox.IDLE_TIMEOUT * 4) as c:
        started = time.monotonic()
        assert c.recv(1) == b""             # closed by the server, never answered
        assert time.monotonic() - started < inbox.IDLE_TIMEOUT * 3


def test_a_burst_of_connections_is_queued_not_dropped():
    """While the server is busy (not accepting), connections wait in the listen backlog."""
    srv = inbox._Server(("127.0.0.1", 0), inbox._handler(inbox.Inbox(), frozenset()))
    socks = []
    try:
        for _ in range(64):
            c = socket.socket()
            c.settimeout(2)
            c.connect(srv.server_address)    # a full backlog leaves the SYN unanswered: timeout
            socks.append(c)
    finally:
        for c in socks:
            c.close()
        srv.server_close()
    assert len(socks) == 64


# ---------------------------------------------------------------- real notifications, real Chromium

CHATS = """\
version: 1
stack:
  name: chats
  team: ops
  scrape_interval: 1s
  evaluation_interval: 1s
  basic_auth: false
  alertmanager_url: http://127.0.0.1:{am}
  endpoints:
    prometheus: 127.0.0.1:{closed}
    alertmanager: 127.0.0.1:{am}
receivers:
  - name: slack
    slack: {{channel: "#ops", webhook: SLACK_HOOK}}
  - name: discord
    discord: {{webhook: DISCORD_HOOK}}
  - name: mattermost
    mattermost: {{webhook: MATTERMOST_HOOK, channel: town-square}}
routing:
  default_receiver: slack
  timings:
    critical: {{group_wait: 1s, group_interval: 1s}}
    warning: {{group_wait: 1s, group_interval: 1s}}
teams:
  - name: ops
    notify: {{critical: [slack, discord, mattermost], warning: [slack]}}
"""


@pytest.fixture(scope="module")
def chats(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chats")
    ports = {"am": free_port(), "closed": free_port()}
    box = inbox.serve("127.0.0.1", 0)
    base = f"http://127.0.0.1:{box.server_address[1]}"
    (tmp / "inventory.yml").write_text(CHATS.format(**ports))
    tree = tmp / "tree"
    assert run_vigil("generate", "-i", str(tmp / "inventory.yml"), "-o", str(tree)).returncode == 0
    # Every webhook left empty: `vigil secrets --inbox-url` points each chat at the inbox.
    r = run_vigil("secrets", "-i", str(tmp / "inventory.yml"), "--env", str(tmp / "none.env"), "-o", str(tree),
                  "--inbox-url", base)
    assert r.returncode == 0, r.stderr
    am = alertmanager(tree / "alertmanager", ports["am"], tmp / "am-data", tmp / "am.log").start()
    url = f"http://127.0.0.1:{ports['am']}"
    try:
        wait_for("Alertmanager ready", lambda: get_json(f"{url}/api/v2/status"), 60, proc=am)
        yield {"tmp": tmp, "tree": tree, "inbox": box.inbox, "base": base, "am_url": url, "am": am}
    finally:
        am.stop()
        box.shutdown()


def _secret(tree: Path, name: str) -> str:
    return (tree / "alertmanager/secrets" / name).read_text()


def test_discord_and_mattermost_render_as_slack_compatible_webhooks(chats):
    cfg = yaml.safe_load((chats["tree"] / "alertmanager/alertmanager.yml").read_text())
    by_name = {r["name"]: r for r in cfg["receivers"]}
    (slack,), (discord,), (mattermost,) = (by_name[n]["slack_configs"] for n in ("slack", "discord", "mattermost"))
    assert slack["actions"] and "actions" not in discord and "actions" not in mattermost
    assert "channel" not in discord and mattermost["channel"] == "town-square"
    assert discord["api_url_file"] == "secrets/DISCORD_HOOK" and "markdown" in discord["text"]
    # A Discord webhook speaks Slack at its URL + /slack: the secret file holds the whole URL.
    assert _secret(chats["tree"], "DISCORD_HOOK") == f"{chats['base']}/discord/DISCORD_HOOK/slack"
    assert _secret(chats["tree"], "MATTERMOST_HOOK") == f"{chats['base']}/mattermost/MATTERMOST_HOOK"
    r = subprocess.run([tool("amtool"), "check-config", "alertmanager.yml"], cwd=chats["tree"] / "alertmanager",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    # Routed like Slack: a critical pages all three, as the real routing tree says (amtool).
    routes = yaml.safe_load((chats["tree"] / "alertmanager/tests/routes.yml").read_text())["cases"]
    critical = next(c for c in routes if c["labels"] == {"team": "ops", "severity": "critical",
                                                         "alertname": "ServiceDown"})
    assert critical["receivers"] == ["slack", "discord", "mattermost"]
    r = subprocess.run([tool("amtool"), "config", "routes", "test", "--config.file=alertmanager.yml",
                        "--verify.receivers=slack,discord,mattermost", "team=ops", "severity=critical",
                        "alertname=ServiceDown"], cwd=chats["tree"] / "alertmanager", capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_vigil_secrets_appends_slack_to_a_discord_webhook(tmp_path):
    (tmp_path / "inventory.yml").write_text(CHATS.format(am=9093, closed=9))
    hook = "https://discord.com/api/webhooks/123/abc"
    (tmp_path / ".env").write_text(f"SLACK_HOOK=https://hooks.slack.com/services/T/B/x\nDISCORD_HOOK={hook}\n"
                                   f"MATTERMOST_HOOK=https://chat.example.com/hooks/xyz\n")
    r = run_vigil("secrets", "-i", str(tmp_path / "inventory.yml"), "--env", str(tmp_path / ".env"),
                  "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert _secret(tmp_path, "DISCORD_HOOK") == hook + "/slack"
    assert _secret(tmp_path, "MATTERMOST_HOOK") == "https://chat.example.com/hooks/xyz"
    (tmp_path / ".env").write_text(f"DISCORD_HOOK={hook}/slack\nSLACK_HOOK=s\nMATTERMOST_HOOK=m\n")
    assert run_vigil("secrets", "-i", str(tmp_path / "inventory.yml"), "--env", str(tmp_path / ".env"),
                     "-o", str(tmp_path)).returncode == 0
    assert _secret(tmp_path, "DISCORD_HOOK") == hook + "/slack"      # not twice


def _arrived(chats, path: str, status: str) -> list[dict]:
    return [m for m in chats["inbox"].snapshot() if m["path"] == path
            and any(f"[{status}" in a.get("title", "") for a in m["payload"].get("attachments", []))]


def test_test_notify_reaches_discord_and_mattermost_and_says_it_will_resolve(chats):
    for name in ("discord", "mattermost"):
        r = run_vigil("test-notify", "-i", str(chats["tmp"] / "inventory.yml"), "--receiver", name)
        assert r.returncode == 0, r.stderr
        assert "resolve by themselves" in r.stdout
    (d,) = wait_for("the Discord message", lambda: _arrived(chats, "/discord/DISCORD_HOOK/slack", "FIRING"), 60)
    (m,) = wait_for("the Mattermost message", lambda: _arrived(chats, "/mattermost/MATTERMOST_HOOK", "FIRING"), 60)
    assert m["payload"]["channel"] == "town-square" and not d["payload"].get("channel")
    for msg in (d, m):
        (a,) = msg["payload"]["attachments"]
        assert "actions" not in a and a["title"].startswith("⚠️ [FIRING:1] VigilTestNotification")
        assert "**Service:** vigil-test-" in a["text"] and "resolves by itself in 5 minutes" in a["text"]
        assert f"[Silence]({chats['am_url']}/#/silences/new?filter=%7B" in a["text"]


class _Dom(HTMLParser):
    """Text and links of each rendered message, from Chromium's DOM."""

    def __init__(self):
        super().__init__()
        self.messages: list[dict] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and attrs.get("class") == "msg":
            self.messages.append({"chat": attrs.get("data-chat"), "bold": [], "links": [], "buttons": [],
                                  "text": ""})
        self.stack.append(tag)
        if self.messages and tag == "a":
            key = "buttons" if attrs.get("class") == "button" else "links"
            self.messages[-1][key].append(attrs.get("href"))

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if self.messages:
            self.messages[-1]["text"] += data
            if self.stack and self.stack[-1] == "b":
                self.messages[-1]["bold"].append(data)


def _chromium(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="vigil-chromium-")
    try:
        return subprocess.run([tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                               "--no-first-run", "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_the_page_shows_a_real_firing_and_resolved_message_as_slack_does(chats, tmp_path):
    """A critical alert through the real Alertmanager into the inbox, then its end; the page,
    as headless Chromium builds it, shows Slack's formatting (never the raw *marks*)."""
    now = dt.datetime.now(dt.timezone.utc)
    alert = {"labels": {"alertname": "HighErrorRate", "service": "checkout", "team": "ops", "severity": "critical",
                        "instance": "checkout:8000", "route": "/api/pay"},
             "annotations": {"summary": "checkout: 12.5% of requests fail",
                             "description": "12.5% of requests to checkout answered 5xx over the last 5m "
                                            "(critical above 10% for 2m). See the service dashboard for the "
                                            "failing routes, its logs and errors.",
                             "runbook_url": "http://localhost:3000/d/vigil-runbooks#higherrorrate",
                             "dashboard_url": "http://localhost:3000/d/svc-checkout"},
             "startsAt": (now - dt.timedelta(minutes=14)).isoformat()}
    get_json(f"{chats['am_url']}/api/v2/alerts", [alert])
    (firing,) = wait_for("the firing message", lambda: _arrived(chats, "/slack/SLACK_HOOK", "FIRING"), 60)
    get_json(f"{chats['am_url']}/api/v2/alerts", [{**alert, "endsAt": now.isoformat()}])
    (resolved,) = wait_for("the resolved message", lambda: _arrived(chats, "/slack/SLACK_HOOK", "RESOLVED"), 60)

    port = chats["base"].rsplit(":", 1)[1]
    dom = _chromium("--dump-dom", f"http://127.0.0.1:{port}/")
    assert dom.returncode == 0, dom.stderr[-2000:]
    parser = _Dom()
    parser.feed(dom.stdout)
    slack = [m for m in parser.messages if m["chat"] == "slack"]
    assert len(slack) == 2, parser.messages
    shown_resolved, shown_firing = slack          # newest first
    for m in slack:
        assert "*Service:*" not in m["text"] and {"Service:", "Team:", "Severity:"} <= set(m["bold"]), m
    assert "checkout: 12.5% of requests fail" in shown_firing["bold"]
    assert "on route /api/pay" in shown_firing["text"] and "(checkout:8000)" in shown_firing["text"]
    assert [b.split("?")[0] for b in shown_firing["buttons"]] == [
        "http://localhost:3000/d/vigil-runbooks#higherrorrate", "http://localhost:3000/d/svc-checkout",
        f"{chats['am_url']}/#/silences/new"]
    assert "Was: checkout: 12.5% of requests fail" in shown_resolved["text"]
    assert "after 14 min" in shown_resolved["text"] and "answered 5xx" not in shown_resolved["text"]

    # Screenshots of each, alone on the page, as the docs show them.
    for name, message in (("firing", firing), ("resolved", resolved)):
        html_file = tmp_path / f"{name}.html"
        html_file.write_text(inbox.page([message]))
        png = tmp_path / f"inbox-{name}.png"
        shot = _chromium(f"--screenshot={png}", "--window-size=860,330", html_file.as_uri())
        assert shot.returncode == 0 and png.is_file(), shot.stderr[-2000:]
        assert _png_size(png) == (860, 330) and png.stat().st_size > 10_000
        if UPDATE:
            shutil.copy(png, ROOT / "docs" / png.name)
    for name in ("firing", "resolved"):
        committed = ROOT / "docs" / f"inbox-{name}.png"
        assert committed.is_file() and _png_size(committed) == (860, 330), f"{committed}: UPDATE_SCREENSHOTS=1"
