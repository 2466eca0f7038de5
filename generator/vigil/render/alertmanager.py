"""alertmanager/: alertmanager.yml, the message templates, and the route
expectations `amtool config routes test` checks.

Secrets are never written here: receivers name files under secrets/, made from
.env by `vigil secrets`. Alertmanager reads *_file paths relative to its
working directory, so it runs from this directory (Compose: working_dir).
"""

from __future__ import annotations

from importlib import resources

from ..inventory import Inventory, Receiver
from ..plan import Plan
from ..routing import BLACKHOLE, Route, cases, inhibitions, routes
from .yamlout import dump

SECRETS_DIR = "secrets"
TEMPLATE = "templates/vigil.tmpl"


def secret_file(variable: str) -> str:
    return f"{SECRETS_DIR}/{variable}"


def render(plan: Plan) -> dict[str, bytes]:
    inv = plan.inventory
    return {
        "alertmanager/alertmanager.yml": dump(config(inv, plan.alert_labels)),
        f"alertmanager/{TEMPLATE}": resources.files("vigil").joinpath(TEMPLATE).read_bytes(),
        "alertmanager/tests/routes.yml": dump({"cases": [{"labels": c.labels, "receivers": list(c.receivers)}
                                                         for c in cases(inv)]}),
    }


def config(inv: Inventory, alert_labels=()) -> dict:
    out = {"global": {"resolve_timeout": "5m"}}
    smtp = inv.routing.smtp
    if smtp is not None:
        out["global"].update({"smtp_smarthost": smtp.smarthost, "smtp_from": smtp.sender,
                              "smtp_require_tls": smtp.require_tls})
        if smtp.username:
            out["global"]["smtp_auth_username"] = smtp.username
        if smtp.password:
            out["global"]["smtp_auth_password_file"] = secret_file(smtp.password)
    out["templates"] = [TEMPLATE]
    out["route"] = _route(routes(inv))
    out["inhibit_rules"] = inhibitions(alert_labels)
    out["receivers"] = [{"name": BLACKHOLE}] + [_receiver(r) for r in inv.receivers]
    return out


def _route(route: Route) -> dict:
    out = {"matchers": list(route.matchers)} if route.matchers else {}
    out["receiver"] = route.receiver
    if route.group_by:
        out["group_by"] = list(route.group_by)
    out.update(route.timing)
    if route.cont:
        out["continue"] = True
    if route.routes:
        out["routes"] = [_route(r) for r in route.routes]
    return out


# Each integration gets the same facts from the shared templates.
_TITLE = '{{ template "vigil.title" . }}'
_TEXT = '{{ template "vigil.text" . }}'


def _receiver(r: Receiver) -> dict:
    out = {"name": r.name}
    if r.slack:
        out["slack_configs"] = [{
            "api_url_file": secret_file(r.slack.webhook),
            "channel": r.slack.channel,
            "send_resolved": True,
            "color": '{{ template "vigil.color" . }}',
            "title": _TITLE,
            "fallback": _TITLE,   # what phone notifications and previews show
            "title_link": '{{ template "vigil.dashboard_url" . }}',
            "text": '{{ template "vigil.slack.text" . }}',
            "actions": [
                {"type": "button", "text": "Runbook", "url": '{{ template "vigil.runbook_url" . }}'},
                {"type": "button", "text": "Dashboard", "url": '{{ template "vigil.dashboard_url" . }}'},
                {"type": "button", "text": "Silence", "url": '{{ template "vigil.silence_url" . }}'},
            ],
        }]
    if r.email:
        out["email_configs"] = [{
            "to": r.email.to,
            "send_resolved": True,
            "headers": {"Subject": '{{ template "vigil.email.subject" . }}'},
            "html": '{{ template "vigil.email.html" . }}',
            "text": _TEXT,
        }]
    if r.pagerduty:
        out["pagerduty_configs"] = [{
            "routing_key_file": secret_file(r.pagerduty.routing_key),
            "send_resolved": True,
            "severity": '{{ if eq .CommonLabels.severity "critical" }}critical{{ else }}warning{{ end }}',
            "description": _TITLE,
            "details": {"service": "{{ .CommonLabels.service }}", "team": "{{ .CommonLabels.team }}",
                        "firing": '{{ template "vigil.alerts.plain" . }}'},
            "links": [{"href": '{{ template "vigil.runbook_url" . }}', "text": "Runbook"},
                      {"href": '{{ template "vigil.dashboard_url" . }}', "text": "Dashboard"},
                      {"href": '{{ template "vigil.silence_url" . }}', "text": "Silence"}],
        }]
    if r.webhook:
        out["webhook_configs"] = [{"url": r.webhook.url, "send_resolved": True}]
    return out
