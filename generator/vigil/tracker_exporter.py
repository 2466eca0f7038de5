"""`vigil errors exporter`: Bugsink's issues as Prometheus metrics.

Why an exporter and not Bugsink's own alert messaging: routing by team and
severity lives in one place, Alertmanager (the inbox, Slack, PagerDuty and
e-mail receivers, inhibitions and silences included); Bugsink refuses webhooks
to non-public addresses by default, which is what every receiver in a local
stack is; and Prometheus keeps the history that the dashboards graph.

It reads the REST API in a loop of its own (a handful of calls per service,
every --interval) and answers scrapes from the last reading, so a slow Bugsink
never makes a scrape time out; it keeps a small cache of what does not change
while an issue gets no new event (its culprit, users, whether it regressed, and the request id of its
newest event, which the alert links to the service's logs). Projects are services
and Bugsink teams are inventory teams, by name (tracker.py): no state here.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .tracker import Client, TrackerError

PREFIX = "vigil_errors"
UP = f"{PREFIX}_up"                         # 1 when the last read of Bugsink worked
EVENTS = f"{PREFIX}_events_total"           # {service, team}: events ingested (Bugsink's own counter)
OPEN = f"{PREFIX}_open_issues"              # {service, team}: issues neither resolved nor muted
ISSUE = f"{PREFIX}_issue_events"            # {service, team, issue, ...details}: events of an open issue
USERS = f"{PREFIX}_issue_users"             # {service, issue}: distinct users an open issue hit
PROJECT = f"{PREFIX}_project_info"          # {service, team, url}: 1, the link to the project's issues
# {service, issue, request_id}: 1, the request id tag of an open issue's newest event (only the issues
# exported in detail, and only when the event has one): one series per issue, a new one per newest event
REQUEST = f"{PREFIX}_issue_request_info"
REQUEST_TAG = "request_id"                  # the tag the apps set (demo/app.py), as in their log lines
ISSUE_LABELS = ("service", "team", "issue", "short_id", "state", "type", "message", "culprit", "release", "url")
NEWEST = 10                                 # open issues per service exported in detail (the newest)
MESSAGE_LEN = 120

HELP = {UP: ("gauge", "1 when the last read of the error tracker's API worked"),
        EVENTS: ("counter", "Error events the tracker ingested for the service"),
        OPEN: ("gauge", "Open issues (neither resolved nor muted) of the service"),
        ISSUE: ("gauge", f"Events of each open issue of the service (the {NEWEST} most recently seen)"),
        USERS: ("gauge", "Distinct users that an open issue hit"),
        PROJECT: ("gauge", "The service's project in the error tracker (url: its issue list)"),
        REQUEST: ("gauge", f"The {REQUEST_TAG} tag of the newest event of an open issue (the {NEWEST} most recently "
                           f"seen of the service)")}


def _label(value) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _line(metric: str, labels: dict, value) -> str:
    inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
    return f"{metric}{{{inner}}} {value}" if inner else f"{metric} {value}"


def culprit(event: dict) -> str:
    """Where it was raised: the innermost in-app frame of the last exception, as `module in function`."""
    data = event.get("data") or {}
    values = ((data.get("exception") or {}).get("values")) or []
    frames = ((values[-1].get("stacktrace") or {}).get("frames") or []) if values else []
    mine = [f for f in frames if f.get("in_app")] or frames
    if not mine:
        return data.get("transaction") or data.get("culprit") or ""
    f = mine[-1]
    return f"{f.get('module') or f.get('filename') or '?'} in {f.get('function') or '?'}"


def tag(event: dict, key: str) -> str:
    """A tag of an event: the Sentry protocol sends them as a mapping or as [key, value] pairs."""
    tags = (event.get("data") or {}).get("tags") or {}
    pairs = tags.items() if isinstance(tags, dict) else (t for t in tags if isinstance(t, list) and len(t) == 2)
    return next((str(v) for k, v in pairs if k == key and v is not None), "")


class Exporter:
    def __init__(self, client: Client, public_url: str):
        self.client, self.public = client, public_url.rstrip("/")
        self._details: dict[tuple, dict] = {}    # (issue id, last_seen) -> culprit, users, state
        self._lock = threading.Lock()

    def issue_url(self, issue_id: str) -> str:
        return f"{self.public}/issues/issue/{issue_id}/"

    def _detail(self, issue: dict) -> dict:
        key = (issue["id"], issue["last_seen"])
        if key not in self._details:
            c = self.client
            newest = c.call("/events/", issue=issue["id"], order="desc")["results"][:1]
            event = c.call(f"/events/{newest[0]['id']}/") if newest else {}
            users = {t["value"] for t in c.all(f"/issues/{issue['id']}/tags/", key="user")}
            history = c.call("/issue-history/", issue=issue["id"], order="desc")["results"]
            opened = next((h["kind"] for h in history if h["kind"] in ("first_seen", "regressed")), "first_seen")
            self._details = {k: v for k, v in self._details.items() if k[0] != issue["id"]}
            self._details[key] = {"culprit": issue.get("transaction") or culprit(event), "users": len(users),
                                  "state": "regressed" if opened == "regressed" else "new",
                                  "release": (event.get("data") or {}).get("release") or "",
                                  "request_id": tag(event, REQUEST_TAG)}
        return self._details[key]

    def collect(self) -> str:
        with self._lock:   # one scrape at a time: the cache is shared
            try:
                lines = self._collect()
                up = 1
            except (TrackerError, KeyError, TypeError, ValueError, IndexError):
                lines, up = [], 0
        out = []
        for metric, (kind, text) in HELP.items():
            out += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}"]
            if metric == UP:
                out.append(_line(UP, {}, up))
            out += [line for line in lines if line.startswith(metric + "{")]
        return "\n".join(out) + "\n"

    def _collect(self) -> list[str]:
        c = self.client
        teams = {t["id"]: t["name"] for t in c.all("/teams/")}
        lines = []
        for project in c.all("/projects/"):
            base = {"service": project["name"], "team": teams.get(project["team"], "")}
            issues = c.all("/issues/", project=project["id"], state="open", sort="last_seen", order="desc")
            lines += [_line(EVENTS, base, project["digested_event_count"]),
                      _line(OPEN, base, len(issues)),
                      _line(PROJECT, {**base, "url": f"{self.public}/issues/{project['id']}/"}, 1)]
            for issue in issues[:NEWEST]:
                d = self._detail(issue)
                message = issue.get("calculated_value") or ""
                message = message if len(message) <= MESSAGE_LEN else message[:MESSAGE_LEN - 1] + "…"
                labels = {**base, "issue": issue["id"], "short_id": issue.get("friendly_id", ""),
                          "state": d["state"], "type": issue.get("calculated_type") or "Error",
                          "message": message, "culprit": d["culprit"], "release": d["release"],
                          "url": self.issue_url(issue["id"])}
                lines.append(_line(ISSUE, labels, issue["digested_event_count"]))
                lines.append(_line(USERS, {"service": base["service"], "issue": issue["id"]}, d["users"]))
                if d["request_id"]:
                    lines.append(_line(REQUEST, {"service": base["service"], "issue": issue["id"],
                                                 REQUEST_TAG: d["request_id"]}, 1))
        return lines


def serve(exporter: Exporter, host: str, port: int, interval: float = 5.0) -> ThreadingHTTPServer:
    """Read Bugsink every `interval` seconds in the background; serve the last reading."""
    latest = [""]          # until the first reading: no series (ErrorTrackerDown waits 5m anyway)
    stop = threading.Event()

    def loop():
        while True:
            latest[0] = exporter.collect()
            if stop.wait(interval):
                return

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] == "/metrics":
                body, kind, status = latest[0].encode(), "text/plain; version=0.0.4", 200
            elif self.path == "/-/healthy":
                body, kind, status = b"ok\n", "text/plain", 200
            else:
                body, kind, status = b"not found\n", "text/plain", 404
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):   # a scraper that hung up: nothing to say
            pass

        def shutdown(self):
            stop.set()
            super().shutdown()

    server = Server((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return server
