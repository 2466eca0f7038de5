"""A local inbox that speaks Slack's incoming-webhook contract.

Where no Slack webhook is configured, notifications land here instead, and
its page shows them the way Slack would (colour bar, title, text, buttons),
so a newcomer sees the alert path work. The end-to-end tests use it as Slack.

    POST /slack/<anything>   a Slack webhook payload; answers "ok" as Slack does
    GET  /                   the messages, newest first, as a page
    GET  /messages.json      the messages as JSON: [{"path", "received", "payload"}]
"""

from __future__ import annotations

import html
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_MESSAGES = 500
MAX_BODY = 1 << 20
_COLORS = {"danger": "#d40e0d", "warning": "#e8a317", "good": "#2eb67d"}


class Inbox:
    def __init__(self):
        self.messages: list[dict] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    def add(self, path: str, payload: dict) -> None:
        with self.arrived:
            self.messages.append({"path": path, "received": time.time(), "payload": payload})
            del self.messages[:-MAX_MESSAGES]
            self.arrived.notify_all()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.messages)


def _handler(inbox: Inbox):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: the page is the log
            pass

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not self.path.startswith("/slack/") or not 0 < length <= MAX_BODY:
                return self._send(400, b"invalid_payload", "text/plain")
            try:
                payload = json.loads(self.rfile.read(length))
            except ValueError:
                return self._send(400, b"invalid_payload", "text/plain")
            if not _well_formed(payload):
                return self._send(400, b"invalid_payload", "text/plain")
            if not (payload.get("text") or payload.get("attachments")):
                return self._send(400, b"no_text", "text/plain")   # Slack's answer to an empty message
            inbox.add(self.path, payload)
            self._send(200, b"ok", "text/plain")

        def do_GET(self):
            if self.path == "/messages.json":
                return self._send(200, json.dumps(inbox.snapshot()).encode(), "application/json")
            if self.path in ("/", "/index.html"):
                return self._send(200, page(inbox.snapshot()).encode(), "text/html; charset=utf-8")
            if self.path == "/-/healthy":
                return self._send(200, b"ok", "text/plain")
            self._send(404, b"not found", "text/plain")
    return Handler


_TEXT_FIELDS = ("text", "title", "title_link", "color", "fallback", "pretext")


def _well_formed(payload) -> bool:
    """The parts of Slack's payload the page shows, with the types Slack requires."""
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k, ""), str) for k in ("text", "channel")):
        return False
    attachments = payload.get("attachments", [])
    if not isinstance(attachments, list):
        return False
    for a in attachments:
        if not isinstance(a, dict) or not all(isinstance(a.get(k, ""), str) for k in _TEXT_FIELDS):
            return False
        actions = a.get("actions", [])
        if not isinstance(actions, list) or not all(
                isinstance(b, dict) and all(isinstance(b.get(k, ""), str) for k in ("text", "url")) for b in actions):
            return False
    return True


def _href(url: str) -> str:
    """Only web links are clickable: no javascript: and the like."""
    return html.escape(url) if url.startswith(("http://", "https://")) else "#"


def page(messages: list[dict]) -> str:
    cards = []
    for m in reversed(messages):
        p = m["payload"]
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m["received"]))
        channel = html.escape(str(p.get("channel", "")))
        for a in p.get("attachments") or [{"text": p.get("text", "")}]:
            color = _COLORS.get(a.get("color", ""), a.get("color") or "#ccc")
            buttons = "".join(f'<a class="button" href="{_href(b.get("url", ""))}">{html.escape(b.get("text", ""))}</a>'
                              for b in a.get("actions") or [])
            title = html.escape(a.get("title", ""))
            if a.get("title_link"):
                title = f'<a href="{_href(a["title_link"])}">{title}</a>'
            cards.append(f'<div class="msg" style="border-left-color:{html.escape(color)}">'
                         f'<div class="meta">{channel} · {when}</div><div class="title">{title}</div>'
                         f'<pre>{html.escape(a.get("text", ""))}</pre><div>{buttons}</div></div>')
    body = "".join(cards) or "<p>No notifications yet. Break the demo (<code>make demo-break</code>) and wait a minute.</p>"
    return ("<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=10><title>Vigil inbox</title>"
            "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}.msg{border-left:6px solid;"
            "padding:.5em 1em;margin:1em 0;background:#f8f8f8}.meta{color:#666;font-size:.8em}.title{font-weight:bold}"
            "pre{white-space:pre-wrap;font-family:inherit}.button{display:inline-block;border:1px solid #999;"
            "border-radius:4px;padding:.2em .6em;margin-right:.5em;text-decoration:none}</style>"
            f"<h1>Vigil inbox</h1><p>What Slack would have shown. Set a webhook in .env to send to Slack.</p>{body}")


def serve(host: str, port: int, inbox: Inbox | None = None) -> ThreadingHTTPServer:
    """A started server (in a daemon thread); `server.inbox` holds the messages."""
    inbox = inbox or Inbox()
    server = ThreadingHTTPServer((host, port), _handler(inbox))
    server.inbox = inbox
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
