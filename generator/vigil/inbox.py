"""A local inbox that speaks the incoming-webhook contract of Slack, Discord
(its Slack-compatible endpoint) and Mattermost.

Where no webhook is configured, notifications land here instead (`vigil secrets
--inbox`), and its page shows them the way each chat would: Slack's mrkdwn
(*bold*, _italics_, ~strike~, <url|links>, `code`, ```blocks```, lists, emoji
shortcodes) or Discord's and Mattermost's Markdown, attachments with their colour
bar, title, fields and — in Slack only — buttons. The end-to-end tests use it as
the chat.

    POST /slack/<name>            a Slack webhook payload; answers "ok" as Slack does
    POST /discord/<name>/slack    a Discord webhook's Slack-compatible endpoint
    POST /mattermost/<name>       a Mattermost incoming webhook
    GET  /                        the messages, newest first, as a page
    GET  /messages.json           [{"path", "chat", "received", "payload"}], oldest first
    GET  /-/healthy               "ok"

It is hardened for a shared machine: a bounded store (MAX_MESSAGES and MAX_STORED
bytes, the oldest dropped), bounded bodies and JSON depth, idle connections closed,
a Host check against DNS rebinding (IP literals, one-label names like `inbox` or
`localhost`, and --allow-host names), no POST from a web page of another origin, and
a page that loads nothing from elsewhere (its Content-Security-Policy).
"""

from __future__ import annotations

import html
import ipaddress
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MAX_MESSAGES = 200
MAX_STORED = 8 << 20        # bytes of payloads kept, all messages together
MAX_BODY = 1 << 20
MAX_DEPTH = 32              # JSON nesting: Slack's payloads need 5
IDLE_TIMEOUT = 10.0         # seconds a connection may sit without sending
BACKLOG = 128
CHATS = ("slack", "discord", "mattermost")
# Slack's named colours and Vigil's own; a strict hex colour too. Anything else is grey:
# a colour never reaches the page as the sender wrote it.
_COLORS = {"danger": "#d40e0d", "warning": "#e8a317", "good": "#2eb67d"}
_HEX = re.compile(r"#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}")
_GREY = "#c0c0c0"
# The shortcodes of the emoji Vigil's messages use, and a few more people type.
EMOJI = {"fire": "🔥", "warning": "⚠️", "white_check_mark": "✅", "heavy_check_mark": "✔️", "rotating_light": "🚨",
         "bell": "🔔", "information_source": "ℹ️", "red_circle": "🔴", "large_green_circle": "🟢", "x": "❌",
         "bulb": "💡", "mag": "🔍", "rocket": "🚀", "tada": "🎉", "bangbang": "‼️", "zzz": "💤"}
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def webhook_url(base: str, chat: str, name: str) -> str:
    """The inbox URL standing in for a chat's webhook (`vigil secrets --inbox`); a Discord secret
    gets /slack appended like any Discord webhook (envfile.Need.secret)."""
    return f"{base.rstrip('/')}/{chat}/{name}"


def chat_of(path: str) -> str | None:
    """slack, discord or mattermost from a webhook path; None for anything else."""
    parts = path.split("?", 1)[0].split("/")
    if len(parts) >= 3 and parts[0] == "" and parts[2]:
        if parts[1] == "discord":
            return "discord" if len(parts) == 4 and parts[3] == "slack" else None
        if parts[1] in ("slack", "mattermost"):
            return parts[1]
    return None


class Inbox:
    def __init__(self, max_messages: int = MAX_MESSAGES, max_bytes: int = MAX_STORED):
        self.messages: list[dict] = []
        self.sizes: list[int] = []
        self.max_messages, self.max_bytes = max_messages, max_bytes
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    def add(self, path: str, payload: dict, size: int = 0) -> None:
        with self.arrived:
            self.messages.append({"path": path, "chat": chat_of(path) or "slack", "received": time.time(),
                                  "payload": payload})
            self.sizes.append(size)
            while len(self.messages) > self.max_messages or (sum(self.sizes) > self.max_bytes
                                                             and len(self.messages) > 1):
                del self.messages[0], self.sizes[0]      # the oldest go first
            self.arrived.notify_all()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.messages)


def json_depth(body: bytes) -> int:
    """Deepest nesting of a JSON text, counted without parsing it (Python's parser recurses:
    a 100,000-deep body would be a RecursionError)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:     # backslash
                escaped = True
            elif byte == 0x22:     # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def host_allowed(host_header: str | None, extra: frozenset = frozenset()) -> bool:
    """IP literals, one-label names (localhost, a Compose service) and the names given: a
    DNS-rebinding page always comes with a dotted name of its own."""
    if not host_header:
        return False
    name = urlsplit(f"//{host_header}").hostname or ""
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return "." not in name.rstrip(".") or name in extra


class _Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True


def _handler(inbox: Inbox, allowed_hosts: frozenset):
    class Handler(BaseHTTPRequestHandler):
        timeout = IDLE_TIMEOUT      # an idle connection is closed, not held
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):  # quiet: the page is the log
            pass

        def _send(self, code: int, body: bytes, kind: str, extra: dict | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _host_ok(self) -> bool:
            if host_allowed(self.headers.get("Host"), allowed_hosts):
                return True
            self._send(421, b"unknown host (vigil inbox --allow-host NAME)", "text/plain")
            return False

        def do_POST(self):
            if not self._host_ok():
                return
            origin = self.headers.get("Origin")
            if origin is not None and urlsplit(origin).netloc != self.headers.get("Host"):
                return self._send(403, b"posting from another origin is not allowed", "text/plain")
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if chat_of(self.path) is None or not 0 < length <= MAX_BODY:
                return self._send(400, b"invalid_payload", "text/plain")
            body = self.rfile.read(length)
            if json_depth(body) > MAX_DEPTH:
                return self._send(400, b"invalid_payload", "text/plain")
            try:
                payload = json.loads(body)
            except ValueError:
                return self._send(400, b"invalid_payload", "text/plain")
            if not _well_formed(payload):
                return self._send(400, b"invalid_payload", "text/plain")
            if not (payload.get("text") or payload.get("attachments")):
                return self._send(400, b"no_text", "text/plain")   # Slack's answer to an empty message
            inbox.add(self.path, payload, len(body))
            self._send(200, b"ok", "text/plain")

        def do_GET(self):
            if not self._host_ok():
                return
            if self.path == "/messages.json":
                return self._send(200, json.dumps(inbox.snapshot()).encode(), "application/json")
            if self.path in ("/", "/index.html"):
                return self._send(200, page(inbox.snapshot()).encode(), "text/html; charset=utf-8",
                                  {"Content-Security-Policy": _CSP, "X-Frame-Options": "DENY"})
            if self.path == "/-/healthy":
                return self._send(200, b"ok", "text/plain")
            self._send(404, b"not found", "text/plain")
    return Handler


_TEXT_FIELDS = ("text", "title", "title_link", "color", "fallback", "pretext", "footer", "author_name")


def _strings(d: dict, keys) -> bool:
    return all(isinstance(d.get(k, ""), str) for k in keys)


def _well_formed(payload) -> bool:
    """The parts of Slack's payload the page shows, with the types Slack requires."""
    if not isinstance(payload, dict) or not _strings(payload, ("text", "channel", "username")):
        return False
    attachments = payload.get("attachments", [])
    if not isinstance(attachments, list):
        return False
    for a in attachments:
        if not isinstance(a, dict) or not _strings(a, _TEXT_FIELDS):
            return False
        for key, keys in (("actions", ("text", "url")), ("fields", ("title", "value"))):
            items = a.get(key, [])
            if not isinstance(items, list) or not all(isinstance(b, dict) and _strings(b, keys) for b in items):
                return False
    return True


# ---------------------------------------------------------------- formatting, as each chat renders it

def _href(url: str) -> str:
    """Only web and mail links are clickable: no javascript: and the like."""
    url = url.strip()
    return html.escape(url) if url.startswith(("http://", "https://", "mailto:")) else "#"


def _link(url: str, text: str) -> str:
    return f'<a target="_blank" rel="noopener noreferrer" href="{_href(url)}">{text}</a>'


# Inline rules per chat: (pattern over the escaped text, replacement). Slack's mrkdwn marks a word
# run with single *, _ or ~; Markdown (Discord, Mattermost) bolds with ** and strikes with ~~.
_EDGE_L, _EDGE_R = r"(?<![\w*_~])", r"(?![\w*_~])"
_SLACK_INLINE = (
    (re.compile(_EDGE_L + r"\*(?=\S)([^*\n]+?)(?<=\S)\*" + _EDGE_R), r"<b>\1</b>"),
    (re.compile(_EDGE_L + r"_(?=\S)([^_\n]+?)(?<=\S)_" + _EDGE_R), r"<i>\1</i>"),
    (re.compile(_EDGE_L + r"~(?=\S)([^~\n]+?)(?<=\S)~" + _EDGE_R), r"<s>\1</s>"),
)
_MARKDOWN_INLINE = (
    (re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*"), r"<b>\1</b>"),
    (re.compile(r"__(?=\S)(.+?)(?<=\S)__"), r"<u>\1</u>"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"<s>\1</s>"),
    (re.compile(_EDGE_L + r"\*(?=\S)([^*\n]+?)(?<=\S)\*" + _EDGE_R), r"<i>\1</i>"),
    (re.compile(_EDGE_L + r"_(?=\S)([^_\n]+?)(?<=\S)_" + _EDGE_R), r"<i>\1</i>"),
)
_SLACK_LINK = re.compile(r"<((?:https?://|mailto:|[!@#])[^<>|\s]*)(?:\|([^<>]*))?>")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((\S+?)\)")
_AUTOLINK = re.compile(r"(?<![\"'=>\w])(https?://[^\s<>()]+[^\s<>().,;:!?'\"])")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
_CODE = re.compile(r"```\n?(.*?)```|`([^`\n]+)`", re.S)
_LIST = re.compile(r"^(?:[•◦▪*-]|\d+[.)])\s+")


def mrkdwn(text: str, chat: str = "slack") -> str:
    """Text as the chat shows it, as safe HTML: everything the sender wrote is escaped first,
    then only the chat's own marks become tags."""
    spans: list[str] = []

    def keep(fragment: str) -> str:       # a finished piece no later rule may touch
        spans.append(fragment)
        return f"\x00{len(spans) - 1}\x00"

    def code(m: re.Match) -> str:
        if m.group(1) is not None:
            return keep(f"<pre>{html.escape(m.group(1).strip(chr(10)))}</pre>")
        return keep(f"<code>{html.escape(m.group(2))}</code>")

    text = _CODE.sub(code, text.replace("\x00", "").strip("\n"))
    if chat == "slack":
        def slack_link(m: re.Match) -> str:
            target, label = m.group(1), m.group(2)
            if target.startswith(("!", "@", "#")):         # <!here>, <@U123>, <#C123|name>
                shown = label or target.lstrip("!")
                return keep(f'<span class="mention">{"@" if target[0] != "#" else "#"}'
                            f"{html.escape(shown.lstrip('@#'))}</span>")
            return keep(_link(target, html.escape(label or target)))
        text = _SLACK_LINK.sub(slack_link, text)
        # Slack's senders escape &, < and > themselves; shown as the characters they stand for.
        text = html.escape(html.unescape(text), quote=False)
        rules = _SLACK_INLINE
    else:
        text = _MD_LINK.sub(lambda m: keep(_link(m.group(2), html.escape(m.group(1)))), text)
        text = html.escape(text, quote=False)
        rules = _MARKDOWN_INLINE
    text = _AUTOLINK.sub(lambda m: keep(_link(html.unescape(m.group(1)), m.group(1))), text)
    text = _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    text = _blocks(text)
    return re.sub("\x00(\\d+)\x00", lambda m: spans[int(m.group(1))], text)


def _blocks(text: str) -> str:
    """Lines: list items (•, -, *, 1.) as a list, > as a quote, the rest as lines."""
    out, items = [], []

    def flush():
        if items:
            out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()
    for line in text.split("\n"):
        bullet = _LIST.match(line)
        if bullet:
            items.append(line[bullet.end():])
            continue
        flush()
        if line.startswith("&gt; "):
            out.append(f"<blockquote>{line[5:]}</blockquote>")
        else:
            out.append(f'<div class="line">{line or "<br>"}</div>')
    flush()
    return "".join(out)


def _color(value: str) -> str:
    value = (value or "").strip()
    return _COLORS.get(value) or (value if _HEX.fullmatch(value) else _GREY)


def _attachment(a: dict, chat: str) -> str:
    parts = []
    if a.get("pretext"):
        parts.append(f'<div class="pretext">{mrkdwn(a["pretext"], chat)}</div>')
    if a.get("author_name"):
        parts.append(f'<div class="author">{html.escape(a["author_name"])}</div>')
    if a.get("title"):
        title = html.escape(a["title"])
        parts.append(f'<div class="title">{_link(a["title_link"], title) if a.get("title_link") else title}</div>')
    if a.get("text"):
        parts.append(f'<div class="text">{mrkdwn(a["text"], chat)}</div>')
    fields = "".join(f'<div class="field{" short" if f.get("short") is True else ""}">'
                     f'<div class="field-title">{html.escape(f.get("title", ""))}</div>'
                     f'<div>{mrkdwn(f.get("value", ""), chat)}</div></div>' for f in a.get("fields") or [])
    if fields:
        parts.append(f'<div class="fields">{fields}</div>')
    if chat == "slack" and a.get("actions"):    # Discord and Mattermost do not show Slack's buttons
        parts.append('<div class="actions">' + "".join(
            _link(b.get("url", ""), html.escape(b.get("text", ""))).replace("<a ", '<a class="button" ', 1)
            for b in a["actions"]) + "</div>")
    if a.get("footer"):
        parts.append(f'<div class="footer">{html.escape(a["footer"])}</div>')
    return f'<div class="attachment" style="border-left-color:{_color(a.get("color", ""))}">{"".join(parts)}</div>'


_NAMES = {"slack": "Slack", "discord": "Discord", "mattermost": "Mattermost"}
_STYLE = """
body{font:15px/1.46 -apple-system,"Segoe UI",Lato,Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d1c1d;
  margin:0;background:#fff}
header{background:#3f0e40;color:#fff;padding:14px 24px}header h1{margin:0;font-size:18px}
header p{margin:2px 0 0;opacity:.8;font-size:13px}
main{max-width:52em;padding:8px 24px 32px}
.msg{display:flex;gap:10px;padding:10px 0;border-bottom:1px solid #eee}
.avatar{flex:none;width:36px;height:36px;border-radius:6px;background:#1264a3;color:#fff;font-weight:700;
  display:flex;align-items:center;justify-content:center}
.body{flex:1;min-width:0}.who{font-weight:900}.app{background:#ddd;border-radius:3px;font-size:10px;
  padding:1px 4px;margin:0 6px;font-weight:700;color:#555;vertical-align:2px}
.meta{color:#616061;font-size:12px}.chat{font-size:11px;border:1px solid #ccc;border-radius:9px;padding:0 6px;
  margin-left:6px;color:#616061}
.attachment{border-left:4px solid #ddd;border-radius:2px;padding:2px 0 2px 12px;margin:6px 0}
.title{font-weight:700;margin-bottom:2px}.title a{color:#1264a3;text-decoration:none}
.line{white-space:pre-wrap;word-wrap:break-word}a{color:#1264a3}
code{font:12px Monaco,Menlo,Consolas,monospace;color:#e01e5a;background:#f6f6f6;border:1px solid #ddd;
  border-radius:3px;padding:1px 3px}
pre{font:12px/1.5 Monaco,Menlo,Consolas,monospace;background:#f8f8f8;border:1px solid #ddd;border-radius:4px;
  padding:8px;white-space:pre-wrap;margin:4px 0}
ul{margin:2px 0;padding-left:22px}blockquote{margin:2px 0;border-left:4px solid #ddd;padding-left:10px;color:#555}
.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 2px}
.fields{display:flex;flex-wrap:wrap;margin-top:4px}.field{flex:1 1 100%;margin:2px 0}.field.short{flex-basis:48%}
.field-title{font-weight:700}.footer{color:#616061;font-size:12px;margin-top:4px}
.actions{margin-top:8px}.button{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:3px 12px;
  margin:0 8px 4px 0;font-weight:700;font-size:13px;color:#1d1c1d;text-decoration:none;background:#fff}
.empty{color:#616061}
"""


def page(messages: list[dict]) -> str:
    cards = []
    for m in reversed(messages):
        p, chat = m["payload"], m.get("chat") or chat_of(m["path"]) or "slack"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m["received"]))
        where = html.escape(str(p.get("channel") or m["path"]))
        who = html.escape(p.get("username") or "Vigil")
        body = f'<div class="text">{mrkdwn(p["text"], chat)}</div>' if p.get("text") else ""
        body += "".join(_attachment(a, chat) for a in p.get("attachments") or [])
        cards.append(f'<div class="msg" data-chat="{chat}"><div class="avatar">{who[:1].upper()}</div>'
                     f'<div class="body"><div><span class="who">{who}</span><span class="app">APP</span>'
                     f'<span class="meta">{when} · {where}</span><span class="chat">{_NAMES[chat]}</span></div>'
                     f"{body}</div></div>")
    body = "".join(cards) or ('<p class="empty">No notifications yet. Break the demo (<code>make demo-break</code>) '
                              "and wait a minute.</p>")
    return ("<!doctype html><html lang=en><meta charset=utf-8><meta http-equiv=refresh content=10>"
            f"<title>Vigil inbox</title><style>{_STYLE}</style>"
            "<header><h1>Vigil inbox</h1><p>What Slack, Discord or Mattermost would have shown. Set the webhook "
            "in .env to send there instead.</p></header>"
            f"<main>{body}</main></html>")


def serve(host: str, port: int, inbox: Inbox | None = None, allow_hosts=()) -> ThreadingHTTPServer:
    """A started server (in a daemon thread); `server.inbox` holds the messages."""
    inbox = inbox or Inbox()
    server = _Server((host, port), _handler(inbox, frozenset(allow_hosts)))
    server.inbox = inbox
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
