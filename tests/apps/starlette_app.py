"""A Starlette service instrumented with starlette-exporter, set up as its README
says (PrometheusMiddleware and the handle_metrics route), for the preset tests.
Run: python starlette_app.py PORT

    GET /ok      200        GET /fail    500        GET /health   200
    GET /metrics Prometheus exposition (starlette_requests_total{method,path,status_code,app_name},
                 starlette_request_duration_seconds)
"""

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette_exporter import PrometheusMiddleware, handle_metrics


async def ok(request):
    return PlainTextResponse("ok\n")


async def fail(request):
    return PlainTextResponse("boom\n", status_code=500)


app = Starlette(routes=[Route("/ok", ok), Route("/health", ok), Route("/fail", fail)])
app.add_middleware(PrometheusMiddleware)
app.add_route("/metrics", handle_metrics)


class Server(uvicorn.Server):
    async def startup(self, sockets=None):
        await super().startup(sockets)
        if self.started:
            print("ready", flush=True)


if __name__ == "__main__":
    Server(uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")).run()
