"""`vigil annotate` posts a deploy marker to Grafana's annotations API. Grafana cannot run
here, so a small HTTP server stands in for its annotations API (POST /api/annotations,
as documented for the pinned Grafana) and records what arrives; the tags must be the
ones the rendered service dashboard's "Deploys" query asks for."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT, run_vigil
from dashboard_queries import dashboards
from native import free_port
from test_front_door import hostile  # noqa: F401  (the fixture: a sign-in page, a trickle of bytes)


class FakeGrafana:
    def __init__(self, status: int = 200):
        self.requests, self.status = [], status
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                answer = ({"id": 42, "message": "Annotation added"} if fake.status == 200
                          else {"message": "invalid API key"})
                data = json.dumps(answer).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def grafana():
    fake = FakeGrafana()
    yield fake
    fake.close()


def annotate(tmp_path, url: str, *args: str, env: str = "GRAFANA_TOKEN=glsa_test\n"):
    (tmp_path / ".env").write_text(env)
    return run_vigil("annotate", "-i", str(ROOT / "inventory.yml"), "--env", str(tmp_path / ".env"),
                     "--grafana-url", url, *args)


def test_the_marker_carries_the_tags_the_service_dashboard_shows(tmp_path, grafana):
    result = annotate(tmp_path, grafana.url, "--service", "demo", "--text", "deploy v1.4.2 (abc123)",
                      "--tag", "v1.4.2")
    assert result.returncode == 0, result.stderr
    assert "annotation 42 on demo" in result.stdout
    (req,) = grafana.requests
    assert req["path"] == "/api/annotations" and req["auth"] == "Bearer glsa_test"
    body = req["body"]
    assert body["text"] == "deploy v1.4.2 (abc123)" and isinstance(body["time"], int) and body["time"] > 1.7e12
    (deploys,) = [a for a in dashboards(ROOT)["team-shop/svc-demo"]["annotations"]["list"] if a["name"] == "Deploys"]
    assert not deploys["target"]["matchAny"] and set(deploys["target"]["tags"]) <= set(body["tags"])
    assert "v1.4.2" in body["tags"]


def test_the_admin_password_of_env_when_there_is_no_token(tmp_path, grafana):
    result = annotate(tmp_path, grafana.url, "--service", "demo", "--text", "x",
                      env="GF_SECURITY_ADMIN_PASSWORD='s3cret pass'\n")
    assert result.returncode == 0, result.stderr
    (req,) = grafana.requests
    assert req["auth"] == "Basic " + base64.b64encode(b"admin:s3cret pass").decode()


def test_refusals_and_mistakes_are_one_clear_line(tmp_path):
    refusing = FakeGrafana(status=401)
    try:
        result = annotate(tmp_path, refusing.url, "--service", "demo", "--text", "x")
    finally:
        refusing.close()
    assert result.returncode == 1 and "refused the annotation: 401" in result.stderr
    assert "Traceback" not in result.stderr

    result = annotate(tmp_path, f"http://127.0.0.1:{free_port()}", "--service", "demo", "--text", "x")
    assert result.returncode == 1 and "is the stack up?" in result.stderr and "Traceback" not in result.stderr

    result = annotate(tmp_path, "http://127.0.0.1:1", "--service", "dmeo", "--text", "x")
    assert result.returncode == 2 and "no service 'dmeo'" in result.stderr and "demo" in result.stderr

    result = annotate(tmp_path, "http://127.0.0.1:1", "--service", "demo", "--text", "x", env="")
    assert result.returncode == 1 and "GRAFANA_TOKEN" in result.stderr


def test_a_web_page_or_a_trickle_is_a_clear_failure_not_a_traceback_or_a_hang(tmp_path, hostile):
    result = annotate(tmp_path, hostile("html"), "--service", "demo", "--text", "x")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "not JSON" in result.stderr and "Please sign in" in result.stderr, result.stderr
    started = time.monotonic()
    result = annotate(tmp_path, hostile("trickle"), "--service", "demo", "--text", "x")
    took = time.monotonic() - started
    assert result.returncode == 1 and "no complete answer within" in result.stderr, result.stderr
    assert took < 60, f"annotate took {took:.0f}s against a server that trickles for 600s"
