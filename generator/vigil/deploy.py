"""`vigil deploy`: one call from CI tells everyone a service was deployed.

Steps, each independent (a failed one is reported and the others still run):

    annotation  a Grafana annotation on the service's dashboards (annotate.py)
    release     the release in the Sentry-protocol error tracker (Bugsink's canonical API),
                skipped with a note when no tracker is configured
    message     the team's `deploys:` receivers: Slack (or the local inbox), webhooks, e-mail
                (through routing.smtp, mail.py)
    record      the DORA event: a Pushgateway group per (service, version) (dora.py)

Reruns are idempotent: the record comes first and says what an earlier run of the same
deploy already did (its time, its status, whether its annotation went out, which receivers
its message reached), so a rerun changes only what is new. Input is checked before anything
is sent.

Exit codes: 0 every step done (or skipped), 1 a step failed (the others are done), 2 bad input,
3 the stack is down (its Pushgateway does not answer); with 2 and 3 nothing is sent.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Optional

from . import annotate, dora, mail
from .exchange import Unreachable, exchange
from . import tracker as tracker_part
from .inventory import Inventory, Receiver, Service

PUSHGATEWAY_URL = os.environ.get("VIGIL_PUSHGATEWAY_URL", "http://127.0.0.1:9091")
TRACKER_URL = "VIGIL_TRACKER_URL"     # from the environment or .env; the token is tracker.TOKEN, as provisioning's
# What an earlier run did, kept in the record itself (gauges of the deploy's group): 1 when the
# annotation is on the dashboards; 1 {receiver} for each deploy receiver the message reached.
ANNOTATED, POSTED = "vigil_deploy_annotated", "vigil_deploy_announced"
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+/-]{0,99}$")
TIMEOUT = 10.0                       # seconds, each HTTP call and each SMTP exchange: CI should not hang
CI_LINK = "CI run"                   # what the link to --url is called, in Slack and in e-mail


class BadInput(Exception):
    pass


class StepFailed(Exception):
    pass


class StackDown(Exception):
    pass


@dataclass
class Deploy:
    service: Service
    version: str
    at: float                        # unix seconds
    status: str = "succeeded"
    commit: str = ""
    commit_time: Optional[float] = None
    url: str = ""
    by: str = ""

    @property
    def lead_seconds(self) -> Optional[float]:
        return None if self.commit_time is None else max(0.0, self.at - self.commit_time)


def parse_time(text: str, what: str) -> float:
    """ISO 8601 (an offset, or Z; none means UTC) or unix seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{what}: invalid time {text!r} (ISO 8601 such as 2026-12-01T21:30:00Z, or unix "
                       f"seconds; `git log -1 --format=%cI` prints it)") from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).timestamp()


def check(service: Service, version: str, status: str, commit_time: Optional[str], now: float, **rest) -> Deploy:
    if not version or not VERSION_RE.match(version):
        raise BadInput(f"--version: invalid version {version!r} (letters, digits and ._+/-, e.g. v1.4.2 or a "
                       f"commit sha)")
    if status not in dora.STATUSES:
        raise BadInput(f"--status: {status!r} is not one of {', '.join(dora.STATUSES)}")
    ct = None
    if commit_time:
        ct = parse_time(commit_time, "--commit-time")
        if ct > now + 60:    # a minute's grace for clocks apart
            raise BadInput(f"--commit-time: {commit_time} is in the future (the deploy is now, "
                           f"{dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(timespec='seconds')})")
    return Deploy(service, version, now, status, commit_time=ct, **rest)


# ---------------------------------------------------------------- the record (Pushgateway)


def _group_url(base: str, d: Deploy) -> str:
    # base64 label values: versions may hold '/', which a path segment cannot.
    b64 = lambda v: base64.urlsafe_b64encode(v.encode()).decode()   # noqa: E731
    return (f"{base.rstrip('/')}/metrics/job/{dora.DEPLOY_JOB}/service@base64/{b64(d.service.name)}"
            f"/version@base64/{b64(d.version)}")


def _http(method: str, url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = TIMEOUT):
    """(status, body) of a 2xx answer within `timeout` for the whole exchange; StepFailed otherwise."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        status, _, answer = exchange(req, timeout)
    except Unreachable as e:
        raise StepFailed(str(e)) from None
    if not 200 <= status < 300:
        raise StepFailed(f"{url.split('?')[0]}: {status} {answer[:200].decode(errors='replace').strip()}")
    return status, answer


def _json(url: str, body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        raise StepFailed(f"{url}: answered with something that is not JSON: {body[:80]!r} "
                         f"(is this the Pushgateway's own URL?)") from None


def previous(pushgateway: str, d: Deploy) -> dict:
    """What the Pushgateway holds of this deploy: {"at", "status", "commit", "lead", "annotation",
    "posted"}, or {}."""
    url = f"{pushgateway.rstrip('/')}/api/v1/metrics"
    answer = _json(url, _http("GET", url)[1])
    groups = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(groups, list):
        raise StepFailed(f"{url}: answered JSON that is not the Pushgateway's metrics list: {str(answer)[:80]}")
    for group in groups:
        labels = group.get("labels", {})
        if (labels.get("job"), labels.get("service"), labels.get("version")) != \
                (dora.DEPLOY_JOB, d.service.name, d.version):
            continue
        out = {}
        for family, content in group.items():
            if not isinstance(content, dict) or "metrics" not in content:
                continue
            m = content["metrics"][0]
            if family == dora.DEPLOY_TIME:
                out["at"], out["status"] = float(m["value"]), m["labels"].get("status")
                out["commit"] = m["labels"].get("commit", "")
            if family == dora.LEAD_TIME:
                out["lead"] = float(m["value"])
            if family == ANNOTATED:
                out["annotation"] = float(m["value"]) == 1
            if family == POSTED:
                out["posted"] = {s["labels"].get("receiver") for s in content["metrics"] if float(s["value"]) == 1}
        return out
    return {}


def exposition(d: Deploy, done: dict) -> str:
    """`done`: {"annotation": bool, "posted": receiver names}."""
    labels = {"team": d.service.team, "status": d.status, "commit": d.commit}
    text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    lines = [f"# TYPE {dora.DEPLOY_TIME} gauge", f"{dora.DEPLOY_TIME}{{{text}}} {d.at:.3f}"]
    if d.lead_seconds is not None:
        lines += [f"# TYPE {dora.LEAD_TIME} gauge", f"{dora.LEAD_TIME}{{{text}}} {d.lead_seconds:.3f}"]
    lines += [f"# TYPE {ANNOTATED} gauge", f"{ANNOTATED} {1 if done['annotation'] else 0}"]
    if done["posted"]:
        lines += [f"# TYPE {POSTED} gauge",
                  *(f'{POSTED}{{receiver="{_escape(n)}"}} 1' for n in sorted(done["posted"]))]
    return "\n".join(lines) + "\n"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def record(pushgateway: str, d: Deploy, done: dict) -> None:
    """PUT: the group is replaced whole, so a rerun leaves one event, not two."""
    _http("PUT", _group_url(pushgateway, d), exposition(d, done).encode(), {"Content-Type": "text/plain"})


# ---------------------------------------------------------------- the release (Bugsink / Sentry protocol)


def release(client: tracker_part.Client, d: Deploy) -> str:
    """Creates release `version` in the service's project (named after the service), unless it is there."""
    try:
        project = next((p["id"] for p in client.all("/projects/") if p["name"] == d.service.name), None)
        if project is None:
            raise StepFailed(f"{client.url}: no project named {d.service.name!r} in the error tracker "
                             f"(`vigil errors provision` makes it)")
        if any(r["version"] == d.version for r in client.all("/releases/", project=project)):
            return f"release {d.version} already in project {project}"
        stamp = dt.datetime.fromtimestamp(d.at, dt.timezone.utc).isoformat().replace("+00:00", "Z")
        client.call("/releases/", {"project": project, "version": d.version, "timestamp": stamp})
    except tracker_part.TrackerError as e:
        raise StepFailed(str(e)) from None
    return f"release {d.version} created in project {project}"


# ---------------------------------------------------------------- the message


def parts(d: Deploy, stack: str) -> list[str]:
    """What every deploy message says, its headline first (Slack's title, the e-mail's subject)."""
    verb = {"succeeded": "deployed", "failed": "deploy FAILED", "rolled-back": "ROLLED BACK"}[d.status]
    out = [f"{d.service.name} {d.version} {verb} ({stack}, team {d.service.team})"]
    if d.commit:
        out.append(f"commit {d.commit}")
    if d.lead_seconds is not None:
        out.append(f"lead time {_duration(d.lead_seconds)}")
    if d.by:
        out.append(f"by {d.by}")
    return out


def text(d: Deploy, stack: str) -> str:
    return " · ".join(parts(d, stack))


def _duration(seconds: float) -> str:
    m = int(seconds // 60)
    return f"{m // 1440}d {m % 1440 // 60}h" if m >= 1440 else f"{m // 60}h {m % 60}m" if m >= 60 else f"{m}m"


def slack_payload(d: Deploy, inv: Inventory, channel: str) -> dict:
    colour = {"succeeded": "good", "failed": "danger", "rolled-back": "warning"}[d.status]
    headline, *details = parts(d, inv.stack.name)
    attachment = {"color": colour, "title": headline, "text": " · ".join(details),
                  "fields": [{"title": "Service", "value": d.service.name, "short": True},
                             {"title": "Version", "value": d.version, "short": True}]}
    if d.url:
        attachment["actions"] = [{"type": "button", "text": CI_LINK, "url": d.url}]
    return {"channel": channel, "username": "vigil", "text": text(d, inv.stack.name), "attachments": [attachment]}


def webhook_payload(d: Deploy, inv: Inventory) -> dict:
    """A small JSON of our own for webhook receivers (they get Alertmanager's format for alerts)."""
    return {"kind": "deploy", "stack": inv.stack.name, "service": d.service.name, "team": d.service.team,
            "version": d.version, "status": d.status, "commit": d.commit or None,
            "lead_time_seconds": d.lead_seconds, "by": d.by or None, "url": d.url or None,
            "time": dt.datetime.fromtimestamp(d.at, dt.timezone.utc).isoformat(), "text": text(d, inv.stack.name)}


def email_message(d: Deploy, inv: Inventory, to: str) -> EmailMessage:
    """Plain text: the headline as the subject, then one fact a line and the CI link."""
    headline, *details = parts(d, inv.stack.name)
    sender = inv.routing.smtp.sender
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = headline, sender, to
    msg["Date"], msg["Message-ID"] = formatdate(usegmt=True), make_msgid("vigil-deploy", sender.split("@")[1])
    stamp = dt.datetime.fromtimestamp(d.at, dt.timezone.utc).isoformat(timespec="seconds")
    msg.set_content("\n".join([headline, "", *details, *([f"{CI_LINK}: {d.url}"] if d.url else []),
                               f"at {stamp}"]) + "\n")
    return msg


def receivers(inv: Inventory, service: Service) -> list[Receiver]:
    team = next(t for t in inv.teams if t.name == service.team)
    by_name = {r.name: r for r in inv.receivers}
    return [by_name[n] for n in team.deploys]


def post(inv: Inventory, d: Deploy, env: dict, inbox_url: str | None,
         skip: set[str]) -> tuple[set[str], list[str], list[str]]:
    """Posts to every deploy receiver of the team but those in `skip` (an earlier run reached them)
    -> (the receivers reached on all their channels, what went where, what failed)."""
    reached, done, failed = set(), [], []
    for r in receivers(inv, d.service):
        if r.name in skip:
            continue
        failures = len(failed)
        targets = []
        if r.slack:
            hook = env.get(r.slack.webhook) or (f"{inbox_url.rstrip('/')}/slack/{r.slack.webhook}" if inbox_url else "")
            targets.append(("slack", hook, slack_payload(d, inv, r.slack.channel),
                            f"{r.slack.webhook} is not set in .env (or give --inbox-url)"))
        if r.webhook:
            targets.append(("webhook", r.webhook.url, webhook_payload(d, inv), ""))
        if r.email:
            try:
                mail.send(inv.routing.smtp, env, email_message(d, inv, r.email.to), TIMEOUT)
                done.append(f"{r.name} (e-mail to {r.email.to})")
            except mail.MailError as e:
                failed.append(f"{r.name}: e-mail: {e}")
        for kind, url, payload, missing in targets:
            if not url:
                failed.append(f"{r.name}: {kind}: {missing}")
                continue
            try:
                _http("POST", url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
                done.append(f"{r.name} ({kind})")
            except StepFailed as e:
                failed.append(f"{r.name}: {kind}: {e}")
        if len(failed) == failures:
            reached.add(r.name)
    return reached, done, failed


# ---------------------------------------------------------------- the whole call


@dataclass
class Outcome:
    lines: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def say(self, step: str, ok: bool, what: str) -> None:
        self.lines.append(f"{'ok     ' if ok else 'FAILED '} {step}: {what}")
        if not ok:
            self.failed.append(step)


def run(inv: Inventory, d: Deploy, *, pushgateway: str, grafana: str | None, grafana_auth,
        tracker: tracker_part.Client | None, env: dict, inbox_url: str | None, dry_run: bool = False) -> Outcome:
    out = Outcome()
    try:
        before = previous(pushgateway, d)
    except StepFailed as e:
        # Without the record a rerun could not tell what this run did: send nothing at all.
        if not dry_run:
            raise StackDown(f"the deploy record cannot be read: {e}") from None
        before = {}
    if before:
        # The same deploy again (a retry, or its later status): its time, commit and lead time stay.
        d.at = before["at"]
        d.commit = d.commit or before.get("commit", "")
        if d.commit_time is None and "lead" in before:
            d.commit_time = d.at - before["lead"]
    news = not before or before.get("status") != d.status
    done = {"annotation": not news and before.get("annotation", False),
            "posted": set() if news else before.get("posted", set())}
    if dry_run:
        out.lines.append(f"would deploy: {text(d, inv.stack.name)}")
        out.lines.append(f"would record at {_group_url(pushgateway, d)}:\n{exposition(d, done)}")
        for r in receivers(inv, d.service):
            out.lines.append(f"would post to {r.name}" + (" (already posted)" if r.name in done["posted"] else ""))
        return out

    if done["annotation"]:
        out.say("annotation", True, "already on the dashboards (an earlier run)")
    elif grafana is None:
        out.lines.append("skip    annotation: Grafana is not run here (stack.endpoints.grafana is null)")
    else:
        try:
            ident = annotate.post(grafana, grafana_auth, d.service, f"{d.status}: {text(d, inv.stack.name)}",
                                  [f"version:{d.version}", d.status], when_ms=int(d.at * 1000)) \
                if grafana_auth is not None else None
            if ident is None:
                out.say("annotation", False, "no Grafana credentials (GRAFANA_TOKEN or GF_SECURITY_ADMIN_PASSWORD)")
            else:
                done["annotation"] = True
                out.say("annotation", True, f"Grafana annotation {ident}")
        except annotate.Unreachable as e:
            out.say("annotation", False, str(e))

    if tracker is None:
        out.lines.append(f"skip    release: no error tracker configured ({TRACKER_URL} and {tracker_part.TOKEN})")
    else:
        try:
            out.say("release", True, release(tracker, d))
        except StepFailed as e:
            out.say("release", False, str(e))

    names = [r.name for r in receivers(inv, d.service)]
    earlier = f"already posted to {', '.join(n for n in names if n in done['posted'])} (an earlier run)"
    if not names:
        out.lines.append(f"skip    message: team {d.service.team} has no `deploys:` receivers")
    elif set(names) <= done["posted"]:
        out.say("message", True, earlier)
    else:
        reached, sent, failed = post(inv, d, env, inbox_url, done["posted"])
        said = "; ".join(failed) if failed else f"posted to {', '.join(sent)}"
        extra = []
        if failed and sent:
            extra.append(f"sent: {', '.join(sent)}")
        if done["posted"]:
            extra.append(earlier)
        out.say("message", not failed, said + (f" ({'; '.join(extra)})" if extra else ""))
        done["posted"] = done["posted"] | reached

    try:
        record(pushgateway, d, done)
        out.say("record", True, f"{dora.DEPLOY_JOB} {d.service.name} {d.version} ({d.status})"
                + (" — replaced the earlier run's" if before else ""))
    except StepFailed as e:
        out.say("record", False, str(e))
    return out
