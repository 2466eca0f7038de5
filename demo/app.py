"""Vigil's demo shop: a small web service to watch, with a switch to break it.

    python app.py serve [--host 127.0.0.1] [--port 8000]   run it (the image serves on 0.0.0.0:8000)
    python app.py mode errors|latency|down|ok [--url URL]   break it or fix it (`make demo-break` / `demo-fix`)

Routes: GET /  GET /products  GET /products/{id}  POST /checkout  GET /health  GET /metrics
        POST /admin/mode (body: the mode; loopback clients only)
Metrics in Vigil's `prometheus-client` convention: http_requests_total{method,route,status} and
http_request_duration_seconds{method,route}, plus demo_checkouts_total / demo_checkout_failures_total.
Logs: one JSON object a line on stdout, with the field names of generator/vigil/logs.py.
Env: DEMO_MODE (ok) the mode at start; DEMO_TRAFFIC_RPS (5) synthetic requests a second, 0 for none.
Errors: with SENTRY_DSN set, unhandled exceptions go to the error tracker with the real sentry-sdk: route,
request id (tag request_id, the same as in the log line), user id (X-User-ID, else the shopper's), breadcrumbs
of the backend calls, release SENTRY_RELEASE. SENTRY_TRACKER_HOST (host:port) replaces the DSN's address: in
Compose the DSN names the tracker's public address, the demo reaches it as bugsink:8010.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import re
import signal
import sys
import threading
import time
import traceback
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import ProxyHandler, Request, build_opener

import sentry_sdk
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

MODES = ("ok", "errors", "latency", "down")
REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
DURATION = Histogram("http_request_duration_seconds", "HTTP request duration", ["method", "route"])
CHECKOUTS = Counter("demo_checkouts_total", "Checkouts attempted (failed ones included)")
CHECKOUT_FAILURES = Counter("demo_checkout_failures_total", "Checkouts that failed")

CATALOG = {str(i): {"id": i, "name": name, "price": price} for i, (name, price) in enumerate(
    [("teapot", 18.0), ("mug", 6.5), ("kettle", 32.0), ("tea sampler", 12.0), ("strainer", 4.0)], start=1)}
DECLINED_CARD = "4000000000000002"   # the payment test card that is always declined
BASELINE_DECLINES = 0.015            # share of checkouts the "gateway" declines in mode ok
ERRORS_SHARE = 0.8                   # share of shop requests that fail in mode errors
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
OPENER = build_opener(ProxyHandler({}))   # local calls only: never through a proxy from the environment
_log_lock = threading.Lock()
state = {"mode": "ok"}


class PaymentDeclined(Exception):
    """The payment gateway refused the charge."""


class UpstreamUnavailable(ConnectionError):
    """A backend the shop depends on (a database) cannot be reached."""


def log(level: str, msg: str, **fields) -> None:
    """One JSON line on stdout: ts, level (lower-case), msg, then the fields."""
    ts = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    line = json.dumps({"ts": ts, "level": level, "msg": msg, **fields})
    with _log_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def query(backend: str) -> None:
    """A call to a backend: a few milliseconds, or slow / failing as the mode says."""
    sentry_sdk.add_breadcrumb(category="query", message=f"query {backend}", level="info")
    time.sleep(random.uniform(0.002, 0.03))
    if state["mode"] == "latency":
        time.sleep(random.uniform(1.0, 3.0))
    if state["mode"] == "errors" and random.random() < ERRORS_SHARE:
        raise UpstreamUnavailable(f"{backend}: connection refused (demo mode 'errors')")


def charge(card: str, amount: float) -> str:
    query("payments")
    if card == DECLINED_CARD or random.random() < BASELINE_DECLINES:
        raise PaymentDeclined(f"card ending {card[-4:]} declined by the gateway ({amount:.2f} EUR)")
    return uuid.uuid4().hex[:12]


# Handlers: (request handler) -> (status, dict for JSON | bytes for the exposition).
def home(req):
    query("sessions")
    return 200, {"service": "vigil-demo", "mode": state["mode"], "routes": [f"{m} {r}" for m, r in ROUTES]}


def products(req):
    query("catalog-db")
    return 200, {"products": list(CATALOG.values())}


def product(req):
    query("catalog-db")
    item = CATALOG.get(req.url_path.rsplit("/", 1)[1])
    return (200, item) if item else (404, {"error": "no such product"})


def checkout(req):
    try:
        order = json.loads(req.body or b"{}")
        items = [CATALOG[str(i)] for i in order.get("items", ["1"])]
        card = str(order.get("card", "4242424242424242"))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return 400, {"error": f"bad order: {e!r}"}
    CHECKOUTS.inc()
    try:
        query("orders-db")
        payment = charge(card, sum(i["price"] for i in items))
    except Exception:
        CHECKOUT_FAILURES.inc()
        raise
    return 200, {"status": "paid", "payment": payment, "items": len(items)}


def admin_mode(req):
    # Only loopback clients may flip the switch: the traffic thread and `docker compose exec demo
    # python app.py mode ...` connect from 127.0.0.1 inside the container; anyone reaching the
    # published port comes from another address and gets 403.
    addr = ipaddress.ip_address(req.client_address[0])
    if not (addr.is_loopback or getattr(addr, "ipv4_mapped", None) and addr.ipv4_mapped.is_loopback):
        return 403, {"error": "the mode switch only answers loopback clients"}
    mode = req.body.decode(errors="replace").strip().lower()
    if mode not in MODES:
        return 400, {"error": f"unknown mode {mode!r}", "modes": list(MODES)}
    previous, state["mode"] = state["mode"], mode
    log("warning", f"demo mode changed: {previous} -> {mode}", previous=previous, mode=mode,
        request_id=req.request_id)
    return 200, {"mode": mode, "previous": previous}


ROUTES = {("GET", "/"): home, ("GET", "/products"): products, ("GET", "/products/{id}"): product,
          ("POST", "/checkout"): checkout, ("GET", "/health"): lambda req: (200, {"status": "ok"}),
          ("GET", "/metrics"): lambda req: (200, generate_latest()),
          ("POST", "/admin/mode"): admin_mode}
TEMPLATES = {route for _, route in ROUTES}


def route_of(path: str) -> str:
    """The route template (bounded label values), never the raw path."""
    if re.fullmatch(r"/products/[^/]+", path):
        return "/products/{id}"
    return path if path in TEMPLATES else "unmatched"


def init_errors() -> bool:
    """The real Sentry SDK, when SENTRY_DSN names a project. Events leave from a background thread:
    a tracker that is down or slow never holds up a request."""
    dsn = os.environ.get("SENTRY_DSN", "").strip()
    if not dsn:
        return False
    host = os.environ.get("SENTRY_TRACKER_HOST", "").strip()
    if host:
        parts = urlsplit(dsn)
        dsn = parts._replace(netloc=f"{parts.username}@{host}").geturl()
    sentry_sdk.init(dsn=dsn, release=os.environ.get("SENTRY_RELEASE", "demo@1.0.0"),
                    environment=os.environ.get("SENTRY_ENVIRONMENT", "demo"), default_integrations=False,
                    send_default_pii=False, max_breadcrumbs=20, shutdown_timeout=2)
    return True


def report(exc: BaseException, req, method: str, route: str) -> None:
    """One unhandled exception with its request: route, request id, user, and the breadcrumbs so far."""
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("request_id", req.request_id)
        scope.set_tag("route", route)
        scope.set_user({"id": req.headers.get("X-User-ID") or f"shopper-{random.randint(1, 40)}"})
        scope.set_context("request", {"method": method, "url": req.url_path, "route": route})
        scope.set_transaction_name(f"{method} {route}")
        sentry_sdk.capture_exception(exc)


class Handler(BaseHTTPRequestHandler):
    server_version = "vigil-demo/1"

    def log_message(self, fmt, *args):   # http.server's own lines (bad requests): JSON too
        log("warning", fmt % args, client=self.client_address[0])

    def do_GET(self):
        with sentry_sdk.isolation_scope():   # this request's breadcrumbs, user and tags only
            self.handle_request()

    def handle_request(self):
        start = time.perf_counter()
        self.url_path = urlsplit(self.path).path
        incoming = self.headers.get("X-Request-ID", "")
        self.request_id = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        length = self.headers.get("Content-Length", "")
        length = min(int(length), 65536) if length.isdigit() else 0
        self.body = self.rfile.read(length) if length > 0 else b""
        method, route = self.command, route_of(self.url_path)
        fields, level = {}, "info"
        if state["mode"] == "down" and route != "/admin/mode":
            # Down: every endpoint, /metrics and /health included, answers 503 (Prometheus' `up` drops
            # to 0); nothing is counted, as a dead process counts nothing.
            status, payload = 503, {"error": "service unavailable"}
            level, msg = "warning", "service down (demo mode 'down')"
        else:
            handler = ROUTES.get((method, route))
            try:
                if handler is not None:
                    status, payload = handler(self)
                elif route == "unmatched":
                    status, payload = 404, {"error": "not found"}
                else:
                    status, payload = 405, {"error": "method not allowed"}
                msg = f"{method} {route} {status}"
                level = "info" if status < 400 else "warning"
            except Exception as exc:
                status, level = 500, "error"
                payload = {"error": "internal server error", "request_id": self.request_id}
                msg = f"{method} {route} failed: {type(exc).__name__}: {exc}"
                fields = {"error_type": type(exc).__name__, "stacktrace": traceback.format_exc()}
                report(exc, self, method, route)
            if route != "/metrics":
                REQUESTS.labels(method, route, str(status)).inc()
                DURATION.labels(method, route).observe(time.perf_counter() - start)
        log(level, msg, request_id=self.request_id, method=method, route=route, status=status,
            duration_ms=round((time.perf_counter() - start) * 1000, 1), **fields)
        body, kind = (payload, CONTENT_TYPE_LATEST) if isinstance(payload, bytes) else \
            (json.dumps(payload).encode() + b"\n", "application/json")
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-ID", self.request_id)
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_request(self, code="-", size="-"):   # one line a request is written by do_GET itself
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):   # e.g. a client hanging up mid-answer
        exc = sys.exc_info()[1]
        log("warning", f"connection error: {exc!r}", error_type=type(exc).__name__, client=client_address[0])


def traffic(base: str, rps: float, stop: threading.Event) -> None:
    """Steady synthetic shoppers: real HTTP requests to the app itself, so dashboards move alone."""
    def one() -> None:
        kind = random.choices(["home", "products", "product", "checkout"], [25, 35, 20, 20])[0]
        if kind == "checkout":
            order = {"items": random.sample(sorted(CATALOG), random.randint(1, 3))}
            req = Request(base + "/checkout", data=json.dumps(order).encode(), method="POST",
                          headers={"Content-Type": "application/json"})
        else:
            path = {"home": "/", "products": "/products", "product": f"/products/{random.randint(1, 5)}"}[kind]
            req = Request(base + path)
        req.add_header("User-Agent", "vigil-demo-traffic/1")
        try:
            with OPENER.open(req, timeout=10) as r:
                r.read()
        except HTTPError as e:
            e.close()
        except (URLError, OSError):
            pass
        finally:
            slots.release()

    slots = threading.BoundedSemaphore(64)   # at most 64 in flight (latency mode holds them 1-3 s)
    next_at = time.monotonic()
    while not stop.is_set():
        if slots.acquire(blocking=False):
            threading.Thread(target=one, daemon=True).start()
        next_at += 1.0 / rps
        delay = next_at - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        else:
            next_at = time.monotonic()   # fell behind: carry on, no burst


def serve(host: str, port: int) -> int:
    mode = os.environ.get("DEMO_MODE", "ok").strip().lower() or "ok"
    try:
        rps = float(os.environ.get("DEMO_TRAFFIC_RPS", "5"))
    except ValueError:
        rps = -1
    if mode not in MODES or rps < 0:
        print(f"DEMO_MODE must be one of {', '.join(MODES)} and DEMO_TRAFFIC_RPS a number >= 0", file=sys.stderr)
        return 2
    state["mode"] = mode
    reporting = init_errors()
    server = Server((host, port), Handler)
    stop = threading.Event()

    def on_signal(signum, frame):   # Compose stop: finish the loop, exit 0 at once
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if rps > 0:
        local = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        threading.Thread(target=traffic, args=(f"http://{local}:{port}", rps, stop), daemon=True).start()
    log("warning" if mode != "ok" else "info", f"listening on {host}:{port}", mode=mode, traffic_rps=rps,
        errors_to_tracker=reporting)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    log("info", "stopped")
    return 0


def set_mode(mode: str, url: str) -> int:
    req = Request(url.rstrip("/") + "/admin/mode", data=mode.encode(), method="POST",
                  headers={"Content-Type": "text/plain"})
    try:
        with OPENER.open(req, timeout=5) as r:
            print(r.read().decode().strip())
            return 0
    except HTTPError as e:
        print(f"HTTP {e.code}: {e.read().decode(errors='replace').strip()}", file=sys.stderr)
    except (URLError, OSError) as e:
        print(f"cannot reach {url}: {getattr(e, 'reason', e)}", file=sys.stderr)
    return 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Vigil's demo shop")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the shop")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    m = sub.add_parser("mode", help="switch a running shop's mode")
    m.add_argument("mode", choices=MODES)
    m.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args(argv)
    return serve(args.host, args.port) if args.command == "serve" else set_mode(args.mode, args.url)


if __name__ == "__main__":
    sys.exit(main())
