"""A FastAPI service instrumented with prometheus-fastapi-instrumentator, set up
as its README says (`Instrumentator().instrument(app).expose(app)`), for the
preset tests. Run: python fastapi_app.py PORT

    GET /ok      200        GET /fail    500        GET /health   200
    GET /metrics Prometheus exposition (http_requests_total{handler,method,status},
                 http_request_duration_highr_seconds, http_request_duration_seconds)
"""

import sys

import uvicorn
from fastapi import FastAPI, Response
from prometheus_fastapi_instrumentator import Instrumentator

app = FastAPI()


@app.get("/ok")
@app.get("/health")
def ok() -> Response:
    return Response("ok\n", media_type="text/plain")


@app.get("/fail")
def fail() -> Response:
    return Response("boom\n", status_code=500, media_type="text/plain")


Instrumentator().instrument(app).expose(app)


class Server(uvicorn.Server):
    async def startup(self, sockets=None):
        await super().startup(sockets)
        if self.started:
            print("ready", flush=True)


if __name__ == "__main__":
    Server(uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")).run()
