"""The public status page: for the services the inventory marks public, their state now
(operational / degraded / down), 90 days of daily uptime, recent incidents and the
inventory's announcements. One self-contained HTML page (no scripts, no external
assets), served by `vigil status-page --serve` or written as static files (--out).

What it reads: `vigil generate` renders status-page/config.json (the public services and
what each is measured by, the title, the announcements: nothing internal such as URLs or
alert names), and Prometheus answers the rest. A service with probes (kind probe, a
health_url) is measured by its probes' probe_success, any other by the `up` of its scrape
targets (a job, an http service without health_url made public):

    down        a probe of the service fails now (probe_success == 0); no target answers
    degraded    one of its critical alerts fires; some of its targets do not answer
    operational none of these; "unknown" when Prometheus has no data of it
    uptime      per UTC day, the mean of its probes' probe_success (its targets' up), for the
                last DAYS days or as many as stack.retention keeps (shown_days: older days are gone)
    incidents   the DORA incident events (dora.py): one sample at each end, valued at
                the incident's duration, and the start of the one going on now
"""

from __future__ import annotations

import datetime as dt
import html
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import dora, live
from .kinds.base import PROBE_JOB
from .units import Duration

SERVICE = "status-page"          # its Compose service
DIR = "status-page"              # its rendered config, in the tree
CONFIG = "config.json"
DAYS = 90                        # of uptime bars, at most: no more than the retention keeps (shown_days)
PHONE_DAYS = 30                  # the bars a phone shows (more would be hairlines)
INCIDENT_DAYS = 14
CACHE_SECONDS = 30


def render(plan) -> dict[str, bytes]:
    inv = plan.inventory
    page = inv.stack.status_page
    probed = {p.labels["service"] for p in plan.probes}
    config = {
        "title": page.title,
        "port": page.port,
        "days": shown_days(inv.stack.retention),
        "services": [{"name": s.name, "measure": "probes" if s.name in probed else "targets"}
                     for s in inv.services if s.on_status_page],
        "announcements": [{"title": a.title, "text": a.text, "kind": a.kind, "start": a.start.isoformat(),
                           "end": a.end.isoformat() if a.end else None, "services": list(a.services)}
                          for a in page.announcements],
    }
    return {f"{DIR}/{CONFIG}": (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()}


def shown_days(retention: Duration) -> int:
    """Days of uptime bars: DAYS, or the whole days Prometheus keeps (30 bars of a 30-day retention,
    not 60 grey ones and an "uptime over 90 days" of 30)."""
    return max(1, min(DAYS, int(retention.seconds // 86400)))


def window_title(days: int) -> str:
    """What the uptime figure is over; says when the retention cut it (as the probes dashboard does)."""
    return f"{days} days" if days >= DAYS else f"the last {days} {'day' if days == 1 else 'days'} (all that is kept)"


MEASURES = {"probes": f'probe_success{{job="{PROBE_JOB}"', "targets": f'up{{job!="{PROBE_JOB}"'}


def _measured(services: list[dict], around: str = "{}") -> str:
    """The 0/1 series the services' state and uptime come from (MEASURES), each put `around`
    (a function over a range, say), in one query: no name is in two parts."""
    parts = []
    for measure, series in MEASURES.items():
        names = [s["name"] for s in services if s["measure"] == measure]
        if names:
            parts.append(around.format(f'{series},service=~"{"|".join(names)}"}}'))
    return " or ".join(parts)


def _query(prometheus: str, path: str, **params) -> list:
    """Prometheus' API (behind basic auth, webauth.py: the password from the environment or .env)."""
    url = f"{prometheus.rstrip('/')}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    body = live._http(url, credential=live.web_credential("prometheus"))
    if not isinstance(body, dict) or body.get("status") != "success":
        raise live.Unreachable(f"{prometheus}: {body.get('error') if isinstance(body, dict) else 'not its API'}")
    return body["data"]["result"]


def _by_service(result: list) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in result:
        out.setdefault(r["metric"].get("service", ""), []).append(r)
    return out


@dataclass
class Status:
    title: str
    now: float
    days: int                        # of uptime bars (shown_days)
    services: list[dict]             # name, state, days [(date, uptime or None)], uptime over them
    incidents: list[dict]            # service, start, end (None: ongoing), seconds
    announcements: list[dict]
    error: str = ""                  # Prometheus unreachable: nothing but the announcements is known


def collect(config: dict, prometheus: str, now: float | None = None) -> Status:
    now = time.time() if now is None else now
    names = [s["name"] for s in config["services"]]
    shown = [a for a in config["announcements"] if _shown(a, now)]
    days = config["days"]
    status = Status(config["title"], now, days, [], [], shown)
    if not names:
        return status
    sel = f'service=~"{"|".join(names)}"'
    try:
        measured = _measured(config["services"])
        lowest = _by_service(_query(prometheus, "query", query=f"min by (service) ({measured})", time=now))
        highest = _by_service(_query(prometheus, "query", query=f"max by (service) ({measured})", time=now))
        critical = _by_service(_query(prometheus, "query", time=now, query=f'count by (service) (ALERTS{{alertstate='
                                                                               f'"firing",severity="critical",{sel}}})'))
        today = int(now // 86400) * 86400
        # Each day's mean, evaluated a second before its midnight: the window holds that day alone.
        per_day = _measured(config["services"], "avg_over_time({}[1d])")
        daily = _by_service(_query(prometheus, "query_range", query=f"avg by (service) ({per_day})",
                                   start=today - (days - 1) * 86400 + 86399, end=today + 86399, step=86400))
        ended = _by_service(_query(prometheus, "query", time=now, query=f"{dora.name(dora.RESTORED, 'service')}"
                                                                         f"{{{sel}}}[{INCIDENT_DAYS}d]"))
        ongoing = _by_service(_query(prometheus, "query", time=now, query=f"{dora.INCIDENT_SINCE}{{{sel}}}"))
    except live.Unreachable as e:
        status.error = str(e)
        return status
    for service in config["services"]:
        name = service["name"]
        state = _state(service["measure"], _value(lowest, name), _value(highest, name), name in critical)
        values = {int(float(t)) - 86399: float(v) for r in daily.get(name, []) for t, v in r["values"]}
        bars = [(dt.datetime.fromtimestamp(d, dt.timezone.utc).date(), values.get(d))
                for d in range(today - (days - 1) * 86400, today + 86400, 86400)]
        seen = [v for _, v in bars if v is not None]
        status.services.append({"name": name, "state": state, "days": bars,
                                "uptime": sum(seen) / len(seen) if seen else None})
        for r in ended.get(name, []):
            for t, v in r["values"]:
                status.incidents.append({"service": name, "start": float(t) - float(v), "end": float(t),
                                         "seconds": float(v)})
        for r in ongoing.get(name, []):
            start = float(r["value"][1])
            status.incidents.append({"service": name, "start": start, "end": None, "seconds": now - start})
    status.incidents.sort(key=lambda i: -i["start"])
    return status


def _value(result: dict[str, list], name: str) -> float | None:
    return float(result[name][0]["value"][1]) if name in result else None


def _state(measure: str, lowest: float | None, highest: float | None, critical: bool) -> str:
    """From the lowest and highest of its measured series now: one failing probe is an outage (a probe
    is what users see), one target of several not answering is a degradation, none answering an outage."""
    if lowest is None:
        return "degraded" if critical else "unknown"
    if highest == 0 or (measure == "probes" and lowest == 0):
        return "down"
    return "degraded" if critical or lowest == 0 else "operational"


def _shown(a: dict, now: float) -> bool:
    start = dt.datetime.fromisoformat(a["start"]).timestamp()
    end = dt.datetime.fromisoformat(a["end"]).timestamp() if a["end"] else None
    # Maintenance is announced ahead of time; a notice shows from its start.
    return (a["kind"] == "maintenance" or start <= now) and (end is None or now < end)


# ---------------------------------------------------------------- the page

STATES = {"operational": ("Operational", "ok"), "degraded": ("Degraded performance", "warn"),
          "down": ("Major outage", "bad"), "unknown": ("No data", "none")}
# On a phone the bars show the last PHONE_DAYS days and incidents stack.
CSS = """
:root{--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;
--none:#8c959f;--card:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#30363d;
--ok:#3fb950;--warn:#d29922;--bad:#f85149;--none:#6e7681;--card:#161b22}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:52rem;margin:0 auto;padding:1.5rem 1rem 3rem}h1{font-size:1.6rem;margin:0 0 .25rem}
h2{font-size:1.2rem;margin:2rem 0 .75rem}.muted{color:var(--muted);font-size:.9rem}
.banner{padding:1rem;border-radius:.5rem;font-weight:600;margin:1rem 0;border:2px solid}
.banner.ok{border-color:var(--ok)}.banner.warn{border-color:var(--warn)}.banner.bad{border-color:var(--bad)}
.banner.none{border-color:var(--none)}
.note{background:var(--card);border-left:4px solid var(--warn);padding:.75rem 1rem;margin:.75rem 0;border-radius:.25rem}
.note h3{margin:0;font-size:1rem}.note p{margin:.25rem 0 0}
.svc{border:1px solid var(--line);border-radius:.5rem;padding:.75rem 1rem;margin:.75rem 0}
.svc header{display:flex;justify-content:space-between;gap:.5rem;flex-wrap:wrap}
.svc h3{margin:0;font-size:1.05rem}.state{font-weight:600}.state.ok{color:var(--ok)}
.state.warn{color:var(--warn)}.state.bad{color:var(--bad)}.state.none{color:var(--muted)}
.bars{display:flex;gap:1px;height:2.25rem;margin:.6rem 0 .25rem;padding:0;list-style:none}
.bars li{flex:1;border-radius:1px;background:var(--none);min-width:1px}
.bars li.ok{background:var(--ok)}.bars li.warn{background:var(--warn)}.bars li.bad{background:var(--bad)}
.scale{display:flex;justify-content:space-between;color:var(--muted);font-size:.8rem}
table{width:100%;border-collapse:collapse;font-size:.95rem}th,td{text-align:left;padding:.4rem .5rem;
border-bottom:1px solid var(--line)}th{font-weight:600}
@media (max-width:36rem){{hidden}.wide{display:none}
table,tbody,tr,td{display:block}thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
tr{border-bottom:1px solid var(--line);padding:.4rem 0}td{border:0;padding:.1rem 0}
td::before{content:attr(data-label) ": ";color:var(--muted)}}
@media (min-width:36.01rem){.narrow{display:none}}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
"""


def _css(days: int) -> str:
    """The page's style; on a phone the bars before the last PHONE_DAYS are hidden."""
    hidden = days - PHONE_DAYS
    return CSS.replace("{hidden}", f".bars li:nth-child(-n+{hidden}){{display:none}}" if hidden > 0 else "")


def _when(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    m = round(seconds / 60)
    return f"{m // 60} h {m % 60} min" if m >= 60 else f"{max(m, 1)} min"


def _day_class(v: float | None) -> str:
    return "none" if v is None else "ok" if v >= 0.999 else "warn" if v >= 0.99 else "bad"


def _percent(v: float | None) -> str:
    return "no data" if v is None else f"{v * 100:.2f}%"


def page(status: Status, refresh: int | None = None) -> str:
    e = html.escape
    worst = max((s["state"] for s in status.services), default="operational",
                key=lambda s: ("operational", "unknown", "degraded", "down").index(s))
    summary = {"operational": ("All systems operational", "ok"), "degraded": ("Some systems are degraded", "warn"),
               "down": ("Some systems are down", "bad"), "unknown": ("Some systems report no data", "none")}[worst]
    if status.error:
        summary = ("Status unknown: the monitoring cannot be reached right now", "none")
    out = ['<!doctype html><html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width,initial-scale=1">',
           f'<meta http-equiv="refresh" content="{refresh}">' if refresh else "",
           f"<title>{e(status.title)}</title><style>{_css(status.days)}</style></head><body><main>",
           f"<h1>{e(status.title)}</h1><p class=\"muted\">Updated {_when(status.now)}</p>",
           f'<p class="banner {summary[1]}" role="status">{e(summary[0])}</p>']
    if status.announcements:
        out.append('<section aria-labelledby="ann"><h2 id="ann">Announcements</h2>')
        for a in status.announcements:
            when = _when(dt.datetime.fromisoformat(a["start"]).timestamp())
            if a["end"]:
                when += " – " + _when(dt.datetime.fromisoformat(a["end"]).timestamp())
            concerns = f" · {', '.join(a['services'])}" if a["services"] else ""
            label = "Scheduled maintenance" if a["kind"] == "maintenance" else "Notice"
            out.append(f'<article class="note"><h3>{label}: {e(a["title"])}</h3>'
                       f'<p class="muted">{e(when)}{e(concerns)}</p>{"<p>" + e(a["text"]) + "</p>" if a["text"] else ""}'
                       f"</article>")
        out.append("</section>")
    out.append('<section aria-labelledby="svcs"><h2 id="svcs">Services</h2>')
    for s in status.services:
        label, cls = STATES[s["state"]]
        out.append(f'<article class="svc"><header><h3>{e(s["name"])}</h3>'
                   f'<span class="state {cls}">{label}</span></header>')
        out.append(f'<ul class="bars" aria-label="Uptime of {e(s["name"])} per day, last {status.days} days">')
        for day, v in s["days"]:
            text = f"{day.isoformat()}: {_percent(v)}"
            out.append(f'<li class="{_day_class(v)}" title="{text}"><span class="sr">{text}</span></li>')
        out.append(f'</ul><p class="scale"><span><span class="wide">{status.days} days ago</span>'
                   f'<span class="narrow">{min(status.days, PHONE_DAYS)} days ago</span></span>'
                   f'<span>{_percent(s["uptime"])} uptime over {window_title(status.days)}</span>'
                   f'<span>Today</span></p></article>')
    out.append("</section>")
    out.append(f'<section aria-labelledby="inc"><h2 id="inc">Incidents, last {INCIDENT_DAYS} days</h2>')
    if status.incidents:
        out.append('<table><thead><tr><th scope="col">Service</th><th scope="col">Started</th>'
                   '<th scope="col">Resolved</th><th scope="col">Duration</th></tr></thead><tbody>')
        for i in status.incidents:
            end = _when(i["end"]) if i["end"] else "Ongoing"
            out.append(f'<tr><td data-label="Service">{e(i["service"])}</td><td data-label="Started">'
                       f'{_when(i["start"])}</td><td data-label="Resolved">{end}</td>'
                       f'<td data-label="Duration">{_duration(i["seconds"])}</td></tr>')
        out.append("</tbody></table>")
    else:
        out.append("<p>No incidents.</p>")
    out.append("</section></main></body></html>\n")
    return "\n".join(x for x in out if x)


def as_json(status: Status) -> str:
    return json.dumps({"title": status.title, "updated": status.now, "error": status.error or None,
                       "days": status.days,
                       "services": [{"name": s["name"], "state": s["state"], "uptime": s["uptime"],
                                     "days": [[d.isoformat(), v] for d, v in s["days"]]} for s in status.services],
                       "incidents": status.incidents, "announcements": status.announcements}, indent=1)


def export(config: dict, prometheus: str, out: Path) -> Status:
    status = collect(config, prometheus)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(page(status))
    (out / "status.json").write_text(as_json(status))
    return status


def serve(config_path: Path, prometheus: str, host: str, port: int) -> ThreadingHTTPServer:
    """The page, rebuilt at most every CACHE_SECONDS (a busy page costs Prometheus nothing more)."""
    cache: dict = {}
    lock = threading.Lock()

    def current() -> Status:
        with lock:
            if cache.get("at", 0) + CACHE_SECONDS < time.monotonic():
                cache["status"] = collect(json.loads(config_path.read_text()), prometheus)
                cache["at"] = time.monotonic()
            return cache["status"]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            path = self.path.split("?")[0]
            if path == "/-/healthy":
                body, kind = b"ok\n", "text/plain"
            elif path in ("/", "/index.html"):
                body, kind = page(current(), refresh=60).encode(), "text/html; charset=utf-8"
            elif path == "/status.json":
                body, kind = as_json(current()).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", f"max-age={CACHE_SECONDS}")
            self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
