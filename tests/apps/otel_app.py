"""A FastAPI service instrumented with OpenTelemetry: opentelemetry-instrumentation-fastapi
records the stable HTTP semantic conventions (OTEL_SEMCONV_STABILITY_OPT_IN=http), and
the SDK's PrometheusMetricReader exports them, for the preset tests.
Run: python otel_app.py PORT

    GET /ok      200        GET /fail    500        GET /health   200
    GET /metrics Prometheus exposition (http_server_request_duration_seconds histogram,
                 labels http_request_method, http_route, http_response_status_code, ...)
"""

import os
import sys

# Before the instrumentation reads it: the stable names only (not the old http.server.duration).
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")

import uvicorn
from fastapi import FastAPI, Response
from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

metrics.set_meter_provider(MeterProvider(resource=Resource.create({"service.name": "otel-app"}),
                                         metric_readers=[PrometheusMetricReader()]))
app = FastAPI()


@app.get("/ok")
@app.get("/health")
def ok() -> Response:
    return Response("ok\n", media_type="text/plain")


@app.get("/fail")
def fail() -> Response:
    return Response("boom\n", status_code=500, media_type="text/plain")


@app.get("/metrics")
def exposition() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


FastAPIInstrumentor.instrument_app(app, excluded_urls="/metrics")


class Server(uvicorn.Server):
    async def startup(self, sockets=None):
        await super().startup(sockets)
        if self.started:
            print("ready", flush=True)


if __name__ == "__main__":
    Server(uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")).run()
