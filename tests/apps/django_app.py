"""A single-file Django project instrumented with django-prometheus, set up as its
README says (the app, the Before/After middlewares, django_prometheus.urls),
served over ASGI by uvicorn, for the preset tests. Run: python django_app.py PORT

    GET /ok      200        GET /fail    500        GET /health   200
    GET /metrics Prometheus exposition (django_http_responses_total_by_status_total{status},
                 django_http_requests_latency_including_middlewares_seconds, ...)
"""

import sys

import django
import uvicorn
from django.conf import settings
from django.http import HttpResponse
from django.urls import include, path

settings.configure(
    DEBUG=False,
    SECRET_KEY="vigil-test-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django_prometheus"],
    MIDDLEWARE=[
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ],
    DATABASES={},
)
django.setup()


def ok(request):
    return HttpResponse("ok\n", content_type="text/plain")


def fail(request):
    return HttpResponse("boom\n", status=500, content_type="text/plain")


urlpatterns = [
    path("ok", ok),
    path("health", ok),
    path("fail", fail),
    path("", include("django_prometheus.urls")),
]


class Server(uvicorn.Server):
    async def startup(self, sockets=None):
        await super().startup(sockets)
        if self.started:
            print("ready", flush=True)


if __name__ == "__main__":
    from django.core.asgi import get_asgi_application

    app = get_asgi_application()
    Server(uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="off")).run()
