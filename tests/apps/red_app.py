"""A small HTTP service instrumented with prometheus-client in Vigil's convention
(`http_requests_total{method,route,status}`, `http_request_duration_seconds`),
for the end-to-end tests. Run: python red_app.py PORT

    GET /ok      200        GET /fail    500        GET /health   200
    GET /flaky   500 every other request, 200 in between
    GET /metrics Prometheus exposition
"""

import itertools
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
DURATION = Histogram("http_request_duration_seconds", "HTTP request duration", ["method", "route"])
FLAKY = itertools.count()      # next() is atomic under the GIL: the handler threads share it


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        start = time.perf_counter()
        if self.path == "/metrics":
            body, status, kind = generate_latest(), 200, CONTENT_TYPE_LATEST
        elif self.path in ("/ok", "/health"):
            body, status, kind = b"ok\n", 200, "text/plain"
        elif self.path == "/fail" or (self.path == "/flaky" and next(FLAKY) % 2 == 0):
            body, status, kind = b"boom\n", 500, "text/plain"
        elif self.path == "/flaky":
            body, status, kind = b"ok this time\n", 200, "text/plain"
        else:
            body, status, kind = b"not found\n", 404, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path != "/metrics":
            REQUESTS.labels("GET", self.path, str(status)).inc()
            DURATION.labels("GET", self.path).observe(time.perf_counter() - start)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()
