"""`vigil deploy` to an e-mail receiver, end to end: the real Pushgateway for the record, a real
SMTP server (aiosmtpd, with STARTTLS and AUTH, its certificate made by openssl for 127.0.0.1) and
the one stand-in of tests/test_deploy.py, Grafana's annotations API. The message that arrives is
parsed and its envelope, headers and body asserted; a server that refuses, never answers, lacks
STARTTLS, holds an untrusted certificate or rejects the password is a failed step named in
deploy's result (exit 1), while the other steps still run. Port 465's TLS from the first byte is
tried in-process against a real SMTPS server."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from conftest import run_vigil, tool
from native import Process, free_port, get_json, native_stack, wait_for
from test_annotate import FakeGrafana
from vigil import inbox, mail
from vigil.inventory import Smtp

USER, PASSWORD = "vigil", "mail-s3cret"
SENDER, TEAM_MAIL = "vigil@mail.example.com", "shop-deploys@example.com"


class Mailbox:
    """What a real SMTP server received: each message with its session's TLS and login."""

    def __init__(self):
        self.messages, self.logins = [], []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                              "tls": server.transport.get_extra_info("ssl_object") is not None,
                              "login": session.auth_data.login.decode() if session.authenticated else None,
                              "message": email.message_from_bytes(envelope.content, policy=email.policy.default)})
        return "250 OK queued"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == \
            (USER.encode(), PASSWORD.encode())
        self.logins.append((mechanism, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


def smtp_server(host: str, tls: ssl.SSLContext | None, implicit: ssl.SSLContext | None = None) \
        -> tuple[Controller, Mailbox]:
    """On host and a free port; with `tls`, STARTTLS is required before MAIL and AUTH; with
    `implicit`, TLS from the first byte (SMTPS, port 465's way)."""
    box = Mailbox()
    options = {"tls_context": tls, "require_starttls": True, "auth_require_tls": True} if tls \
        else {"ssl_context": implicit, "auth_require_tls": False} if implicit else {"auth_require_tls": False}
    server = Controller(box, hostname=host, port=free_port(), authenticator=box.authenticate, ready_timeout=30,
                        **options)
    server.start()
    return server, box


def _certificate(tmp) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: the test trusts it through SSL_CERT_FILE, as a
    company CA would be."""
    cert, key = tmp / "smtp.crt", tmp / "smtp.key"
    subprocess.run([tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deploy-email")
    ports = {"prom": free_port(), "closed": free_port(), "push": free_port()}
    cert, key = _certificate(tmp)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    secure, box = smtp_server("127.0.0.1", tls)
    implicit, implicit_box = smtp_server("127.0.0.1", None, implicit=tls)
    # 127.0.0.2 is this machine too, but not "localhost" to the password rule (mail.LOCALHOST).
    plain, plain_box = smtp_server("127.0.0.2", None)
    grafana, hooks = FakeGrafana(), inbox.serve("127.0.0.1", 0)
    push = Process([tool("prometheus-pushgateway"), f"--web.listen-address=127.0.0.1:{ports['push']}",
                    f"--persistence.file={tmp / 'pushgateway.data'}"], tmp, tmp / "pushgateway.log").start()
    (tmp / ".env").write_text(f"SMTP_PASSWORD={PASSWORD}\nGRAFANA_TOKEN=glsa_ci\n")
    env = {"tmp": tmp, "ports": ports, "grafana": grafana, "push": push, "box": box, "plain_box": plain_box,
           "hooks": hooks.inbox, "audit": f"http://127.0.0.1:{hooks.server_address[1]}/slack/audit",
           "secure": f"127.0.0.1:{secure.port}", "plain": f"127.0.0.2:{plain.port}", "implicit": implicit.port,
           "implicit_box": implicit_box}
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SSL_CERT_FILE", cert)   # inherited by `vigil deploy`
            wait_for("Pushgateway ready", lambda: urllib.request.urlopen(
                f"http://127.0.0.1:{ports['push']}/-/ready").status == 200, 30, proc=push)
            yield env
    finally:
        push.stop()
        for server in (secure, plain, implicit):
            server.stop()
        grafana.close()
        hooks.shutdown()


def inventory(env, smarthost: str, require_tls: bool = True) -> str:
    """Team shop, its deploys mailed to TEAM_MAIL through smarthost and posted to an audit webhook
    (the inbox); the path of the file."""
    inv = yaml.safe_load(native_stack("mail", env["ports"], ("shop",), pushgateway=env["ports"]["push"]))
    inv["receivers"] += [{"name": "shop-mail", "email": {"to": TEAM_MAIL}},
                         {"name": "audit", "webhook": {"url": env["audit"]}}]
    inv["routing"]["smtp"] = {"smarthost": smarthost, "from": SENDER, "username": USER, "password": "SMTP_PASSWORD",
                              "require_tls": require_tls}
    inv["teams"][0]["deploys"] = ["shop-mail", "audit"]
    inv["services"] = [{"name": "checkout", "team": "shop", "kind": "http",
                        "targets": [f"127.0.0.1:{env['ports']['closed']}"]}]
    path = env["tmp"] / f"inventory-{smarthost.replace(':', '-')}-{require_tls}.yml"
    path.write_text(yaml.safe_dump(inv, sort_keys=False))
    return str(path)


def ci_deploy(env, smarthost: str, *args: str, require_tls: bool = True, env_file: str = ".env"):
    return run_vigil("deploy", "-i", inventory(env, smarthost, require_tls), "--env", str(env["tmp"] / env_file),
                     "--grafana-url", env["grafana"].url,
                     "--pushgateway-url", f"http://127.0.0.1:{env['ports']['push']}", *args)


def _audited(env, version: str) -> int:
    """Deploy messages of `version` the audit webhook received."""
    return sum(m["payload"].get("version") == version for m in env["hooks"].snapshot()
               if m["path"] == "/slack/audit")


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds")


def _steps(result) -> str:
    return result.stdout + result.stderr


def _failed(result, said: str) -> None:
    """The message step failed saying `said`, the others ran, exit 1 (deploy's "a step failed")."""
    assert result.returncode == 1, _steps(result)
    assert f"FAILED  message: shop-mail: e-mail: {said}" in result.stdout, result.stdout
    assert "ok      annotation" in result.stdout and "ok      record" in result.stdout, result.stdout
    assert "message failed; the other steps are done" in result.stderr and "Traceback" not in result.stderr


def test_a_deploy_is_mailed_over_starttls_with_auth_and_a_rerun_mails_nothing(stack):
    result = ci_deploy(stack, stack["secure"], "--service", "checkout", "--version", "v2.0.0", "--commit", "abc123",
                       "--commit-time", _iso(time.time() - 5400), "--url", "https://ci.example.com/run/7",
                       "--by", "alice")
    assert result.returncode == 0, _steps(result)
    assert f"ok      message: posted to shop-mail (e-mail to {TEAM_MAIL})" in result.stdout
    (got,) = stack["box"].messages
    assert (got["from"], got["to"], got["tls"], got["login"]) == (SENDER, [TEAM_MAIL], True, USER)
    assert stack["box"].logins == [("PLAIN", True)]
    msg = got["message"]
    assert msg["Subject"] == "checkout v2.0.0 deployed (mail, team shop)"
    assert (msg["From"], msg["To"]) == (SENDER, TEAM_MAIL)
    assert msg["Message-ID"].endswith("@mail.example.com>") and abs(
        msg["Date"].datetime.timestamp() - time.time()) < 300
    assert msg.get_content_type() == "text/plain"
    body = msg.get_content().splitlines()
    assert body[0] == msg["Subject"]
    assert {"commit abc123", "lead time 1h 30m", "by alice", "CI run: https://ci.example.com/run/7"} <= set(body)

    again = ci_deploy(stack, stack["secure"], "--service", "checkout", "--version", "v2.0.0")
    assert again.returncode == 0, _steps(again)
    assert "ok      message: already posted to shop-mail, audit (an earlier run)" in again.stdout
    assert len(stack["box"].messages) == 1 and _audited(stack, "v2.0.0") == 1
    # A rollback is news: it is mailed, with the same commit and lead time.
    back = ci_deploy(stack, stack["secure"], "--service", "checkout", "--version", "v2.0.0", "--status", "rolled-back")
    assert back.returncode == 0, _steps(back)
    rolled = stack["box"].messages[-1]["message"]
    assert len(stack["box"].messages) == 2 and _audited(stack, "v2.0.0") == 2
    assert rolled["Subject"] == "checkout v2.0.0 ROLLED BACK (mail, team shop)"
    assert {"commit abc123", "lead time 1h 30m"} <= set(rolled.get_content().splitlines())


def test_a_refused_server_is_a_failed_step_the_others_run_and_the_rerun_mails(stack):
    before = len(stack["grafana"].requests)
    refused = f"127.0.0.1:{stack['ports']['closed']}"
    _failed(ci_deploy(stack, refused, "--service", "checkout", "--version", "v2.1.0"),
            f"{refused}: Connection refused")
    assert len(stack["grafana"].requests) == before + 1 and _audited(stack, "v2.1.0") == 1
    # The record says which receivers the message reached: the rerun, through a server that
    # answers, mails it, and posts to the webhook not twice.
    rerun = ci_deploy(stack, stack["secure"], "--service", "checkout", "--version", "v2.1.0")
    assert rerun.returncode == 0, _steps(rerun)
    assert "ok      annotation: already on the dashboards" in rerun.stdout
    assert f"ok      message: posted to shop-mail (e-mail to {TEAM_MAIL}) (already posted to audit (an earlier " \
           f"run))" in rerun.stdout
    assert stack["box"].messages[-1]["message"]["Subject"] == "checkout v2.1.0 deployed (mail, team shop)"
    assert len(stack["grafana"].requests) == before + 1 and _audited(stack, "v2.1.0") == 1


def test_what_the_smtp_settings_refuse_sends_no_mail_and_no_password(stack, monkeypatch):
    deploy = lambda version, smarthost, **kw: ci_deploy(   # noqa: E731
        stack, smarthost, "--service", "checkout", "--version", version, **kw)
    plain, secure = stack["plain"], stack["secure"]
    sent, logins = len(stack["plain_box"].messages), list(stack["plain_box"].logins)
    # require_tls (the default) and a server without STARTTLS: not even the password is offered.
    _failed(deploy("v3.0.0", plain), f"{plain}: require_tls is true (the default) but the server does not offer "
                                     f"STARTTLS")
    # require_tls: false to a host that is not localhost: no password in the clear.
    _failed(deploy("v3.0.1", plain, require_tls=False), f"{plain}: the password would go unencrypted")
    assert (len(stack["plain_box"].messages), stack["plain_box"].logins) == (sent, logins)

    sent, logins = len(stack["box"].messages), len(stack["box"].logins)
    (stack["tmp"] / "wrong.env").write_text("SMTP_PASSWORD=not-it\nGRAFANA_TOKEN=glsa_ci\n")
    _failed(deploy("v3.0.2", secure, env_file="wrong.env"), f"{secure}: 535 ")
    tried = stack["box"].logins[logins:]
    assert tried and not any(ok for _, ok in tried), tried   # smtplib tries PLAIN, then LOGIN
    logins = len(stack["box"].logins)
    (stack["tmp"] / "none.env").write_text("GRAFANA_TOKEN=glsa_ci\n")
    _failed(deploy("v3.0.3", secure, env_file="none.env"), "SMTP_PASSWORD (routing.smtp.password) is not set")
    # A certificate no CA vouches for: the TLS handshake fails before AUTH.
    monkeypatch.delenv("SSL_CERT_FILE")
    _failed(deploy("v3.0.4", secure), f"{secure}: TLS: certificate verify failed")
    assert len(stack["box"].messages) == sent and len(stack["box"].logins) == logins


def test_a_dry_run_says_what_it_would_mail_and_sends_nothing(stack):
    sent, notes = len(stack["box"].messages), len(stack["grafana"].requests)
    result = ci_deploy(stack, stack["secure"], "--service", "checkout", "--version", "v4.0.0", "--dry-run")
    assert result.returncode == 0, _steps(result)
    assert "would deploy: checkout v4.0.0 deployed (mail, team shop)" in result.stdout
    assert "would post to shop-mail" in result.stdout
    assert (len(stack["box"].messages), len(stack["grafana"].requests)) == (sent, notes)
    groups = get_json(f"http://127.0.0.1:{stack['ports']['push']}/api/v1/metrics")["data"]
    assert not [g for g in groups if g["labels"].get("version") == "v4.0.0"], groups


def test_a_server_that_never_answers_fails_the_step_after_the_timeout(stack):
    # A listening socket nobody accepts on: the connection opens, the greeting never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        result = ci_deploy(stack, host, "--service", "checkout", "--version", "v5.0.0")
    _failed(result, f"{host}: no answer within 10 s")


def test_port_465_is_tls_from_the_first_byte(stack, monkeypatch):
    # Alertmanager's rule is the port number; 465 needs root to bind, so this server's free port
    # stands in for it (mail.IMPLICIT_TLS_PORT), in-process.
    monkeypatch.setattr(mail, "IMPLICIT_TLS_PORT", str(stack["implicit"]))
    smtp = Smtp.model_validate({"smarthost": f"127.0.0.1:{stack['implicit']}", "from": SENDER, "username": USER,
                                "password": "SMTP_PASSWORD"})   # require_tls: true, the default
    msg = email.message.EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "implicit TLS", SENDER, TEAM_MAIL
    msg.set_content("over SMTPS\n")
    mail.send(smtp, {"SMTP_PASSWORD": PASSWORD}, msg, timeout=10)
    (got,) = stack["implicit_box"].messages
    assert (got["tls"], got["login"], got["message"]["Subject"]) == (True, USER, "implicit TLS")
