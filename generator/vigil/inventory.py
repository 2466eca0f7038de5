"""The inventory, version 1: the typed shape of inventory.yml (SPEC §2).

Only the shape lives here. Cross-references (teams, receivers) and what each
service kind accepts are checked in validate.py and the kind modules.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import re._parser as re_parser     # its parse tree knows each group's shortest width (_empty_group)
import warnings
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Optional
from urllib.parse import parse_qsl, urlsplit

import re2
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, StrictBool, \
    WithJsonSchema, field_validator

from .logs import REDACTED
from .units import Duration, parse_percent

SLUG_RE = r"^[a-z][a-z0-9-]*$"
ENV_RE = r"^[A-Z][A-Z0-9_]*$"
LABEL_RE = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
ALERTNAME_RE = LABEL_RE
HOSTPORT_RE = r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}$"


def _matcher(pattern: str, what: str, hint: str):
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):   # not match(): `$` also matches before a final "\n"
            raise ValueError(f"invalid {what} {value!r} ({hint})")
        return value
    return check


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _no_control(what: str, value: str, hint: str = "a pasted newline or tab?") -> None:
    bad = CONTROL.search(value)
    if bad:
        raise ValueError(f"{what} {value!r} contains the control character {bad.group()!r} ({hint})")


def _plain(what: str):
    """A value Vigil writes where Alertmanager or Prometheus expand Go templates (a
    Slack channel, an e-mail address, a URL in an annotation) or into a path:
    no control characters, no `{{`."""
    def check(value: str) -> str:
        _no_control(what, value)
        if "{{" in value:
            raise ValueError(f"{what} {value!r} contains '{{{{': it would be run as a Go template "
                             f"(write the value itself)")
        return value
    return check


def _slug(max_len: int):
    check = _matcher(SLUG_RE, "name", "use lowercase letters, digits and '-', starting with a letter")

    def slug(value: str) -> str:
        check(value)
        if len(value) > max_len or value.endswith("-"):
            raise ValueError(f"invalid name {value!r} (at most {max_len} characters, not ending in '-')")
        return value
    return slug


def _hostport(value: str) -> str:
    _matcher(HOSTPORT_RE, "target", "write host:port, e.g. checkout:8000 or 127.0.0.1:9100")(value)
    if not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise ValueError(f"invalid target {value!r} (port must be 1..65535)")
    return value


# Query parameters that carry a credential (?token=..., ?api_key=...).
SECRET_PARAMS = re.compile(r"(?i)(access_?|api_?|auth_?|private_?|client_?|session_?)?(token|key|secret|password|"
                           r"passwd|pwd|signature|sig|credentials?)|x-amz-(signature|credential|security-token)")


def _url(value: str) -> str:
    _plain("URL")(value)
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:          # e.g. an unclosed '[' of an IPv6 address
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in value):
        raise ValueError(f"invalid URL {value!r} (write a full http:// or https:// URL)")
    params = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True) if SECRET_PARAMS.fullmatch(k)]
    secret = "a user and password" if parts.password is not None else "a user name" if parts.username is not None \
        else f"the query parameter {params[0]!r}" if params else None
    if secret:
        raise ValueError(f"URL {_without_secrets(parts)!r} carries a credential ({secret}): Vigil writes URLs into rendered "
                         f"files in plain text. Keep secrets in .env and name the variable (as slack.webhook and "
                         f"pagerduty.routing_key do)")
    return value


def _without_secrets(parts) -> str:
    """The URL without what it must not show again in an error message."""
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{'***@' if '@' in parts.netloc else ''}{host}{parts.path}" + ("?***" if parts.query else "")


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"invalid IP address {value!r} (e.g. 127.0.0.1, or 0.0.0.0 for every interface)") from None


def _label_name(value: str) -> str:
    _matcher(LABEL_RE, "label name", "letters, digits and '_', not starting with a digit")(value)
    if value.startswith("__"):
        raise ValueError(f"invalid label name {value!r} (names starting with '__' are reserved)")
    return value


def _label_value(value: str) -> str:
    if not value:
        raise ValueError("empty label value (Prometheus drops empty labels: give a value or remove the label)")
    _no_control("label value", value)
    return value


def _str(pattern: str | None = None, **schema):
    return WithJsonSchema({"type": "string", **({"pattern": pattern} if pattern else {}), **schema})


Slug = Annotated[str, AfterValidator(_slug(63)), _str(SLUG_RE)]
ServiceName = Annotated[str, AfterValidator(_slug(36)), _str(SLUG_RE, maxLength=36)]
EnvVar = Annotated[str, AfterValidator(_matcher(ENV_RE, "variable name",
                                                "name an environment variable from .env, e.g. SLACK_WEBHOOK_URL")),
                   _str(ENV_RE, description="name of an environment variable set in .env (never the secret itself)")]
HostPort = Annotated[str, AfterValidator(_hostport), _str(HOSTPORT_RE)]
IpAddress = Annotated[str, AfterValidator(_ip), _str(format="ipvanyaddress")]
Url = Annotated[str, AfterValidator(_url), _str(format="uri")]
LabelName = Annotated[str, AfterValidator(_label_name), _str(LABEL_RE)]
LabelValue = Annotated[str, AfterValidator(_label_value), _str(minLength=1)]
AlertName = Annotated[str, AfterValidator(_matcher(ALERTNAME_RE, "alert name", "letters, digits and '_', e.g. QueueBacklog")),
                      _str(ALERTNAME_RE)]
DurationText = Annotated[Duration, PlainValidator(Duration.parse),
                         WithJsonSchema({"type": "string", "pattern": r"^([0-9]+(y|w|d|h|m|s|ms))+$",
                                         "description": "a Prometheus duration: 30s, 5m, 1h30m"})]
Percent = Annotated[Decimal, PlainValidator(parse_percent),
                    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "maximum": 100},
                                              {"type": "string", "pattern": r"^[0-9.]+%$"}],
                                    "description": "a percentage: 1% or 99.9"})]


def _series_values(value: object) -> str | float:
    """promtool's notation ('0+10x20') or one number; a plain `str | float` union
    would report each member's failure, at paths like `series.up.float`."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"expected promtool values like '0+10x20' or a number, got {value!r}")


SeriesValues = Annotated[str | float, PlainValidator(_series_values),
                         WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}]})]


def _version(value: object) -> object:
    """Literal[1] alone would take `true` and `1.0` for 1."""
    if type(value) is not int:
        raise ValueError(f"unsupported inventory version {value!r} (this Vigil reads version 1)")
    return value


Severity = Literal["critical", "warning", "info"]
Kind = Literal["http", "job", "postgres", "mysql", "redis", "nginx", "host", "probe"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Endpoints(Strict):
    """Where the stack's own parts are reached; defaults are the Compose service names.
    Prometheus and Alertmanager always run; any other part may be `null`: not run here
    (a native run), so neither scraped nor alerted on."""
    prometheus: HostPort = "prometheus:9090"
    alertmanager: HostPort = "alertmanager:9093"
    grafana: Optional[HostPort] = "grafana:3000"
    loki: Optional[HostPort] = "loki:3100"
    alloy: Optional[HostPort] = "alloy:12345"
    blackbox: Optional[HostPort] = "blackbox:9115"
    node_exporter: Optional[HostPort] = "node-exporter:9100"
    cadvisor: Optional[HostPort] = "cadvisor:8080"
    bugsink: HostPort = "bugsink:8010"
    errors_exporter: HostPort = "errors-exporter:9188"
    pushgateway: Optional[HostPort] = Field("pushgateway:9091", description="where `vigil deploy` records deploys (DORA)")

    @field_validator("*")
    @classmethod
    def _compose_port(cls, value: Optional[str], info) -> Optional[str]:
        """The defaults are the Compose services and the ports they listen on: an
        endpoint naming one of those services must use its port."""
        default = cls.model_fields[info.field_name].default
        host, port = default.rsplit(":", 1)
        if value is not None and value.rsplit(":", 1)[0] == host and value != default:
            raise ValueError(f"{value!r} names the Compose service {host}, which listens on {port} "
                             f"(write {default}, or point it at another host)")
        return value

    @classmethod
    def compose_address(cls, part: str) -> str:
        """Where Compose runs a part (its service name and port), whether or not this stack runs it."""
        return cls.model_fields[part].default

    def address(self, part: str) -> str:
        """The endpoint, or for a part not run here, where Compose would run it."""
        return getattr(self, part) or self.compose_address(part)

    def published_url(self, part: str) -> str:
        """The base URL of a part from this machine: a Compose service through the port
        docker-compose.yml publishes, anything else at its endpoint."""
        address = self.address(part)
        if address == self.compose_address(part):
            return f"http://localhost:{address.rsplit(':', 1)[1]}"
        return f"http://{address}"


class RemoteWrite(Strict):
    url: Url
    name: Optional[Slug] = None


_RE2 = re2.Options()
_RE2.log_errors = False            # the error is reported, located; RE2 need not print it too
_EMPTY_PROBES = ("", "a", " ", "a b", "a1 b2\tc3")


def _re2_pattern(value: str) -> str:
    """A redaction pattern as Alloy's stage.replace runs it: RE2 (Go's regexp), at least
    one capture group (only groups are replaced), none that can match nothing."""
    _no_control("pattern", value, "write \\n or \\t")
    try:
        compiled = re2.compile(value, _RE2)
    except re2.error as e:
        why = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise ValueError(f"pattern {value!r} is not RE2 ({why}; Alloy's regexp has no lookaround or "
                         f"backreferences)") from None
    if compiled.groups < 1:
        raise ValueError(f"pattern {value!r} has no capture group: stage.replace replaces what the groups "
                         f"match, e.g. 'ticket=(\\w+)'")
    if _empty_group(value) or any(m.start(g) == m.end(g) != -1 for probe in _EMPTY_PROBES
                                  for m in compiled.finditer(probe) for g in range(1, compiled.groups + 1)):
        raise ValueError(f"pattern {value!r} can match empty text: the replacement would be inserted, not "
                         f"replace anything (make each group match at least one character)")
    return value


def _empty_group(pattern: str) -> bool:
    """Whether a capture group can match nothing, read from Python's parse of the pattern
    (RE2 syntax is nearly Perl's; what Python cannot parse is left to the probes)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # "possible nested set" for RE2's [[:alpha:]]
            tree = re_parser.parse(pattern)
    except (re.error, ValueError, OverflowError, RecursionError):
        return False

    def walk(node) -> bool:
        if isinstance(node, re_parser.SubPattern):
            return any(walk(item) for item in node.data)
        if isinstance(node, (tuple, list)):
            if len(node) == 2 and node[0] is re_parser.SUBPATTERN and node[1][0] and node[1][-1].getwidth()[0] == 0:
                return True
            return any(walk(x) for x in node)
        return False
    return walk(tree)


class RedactRule(Strict):
    name: Slug
    pattern: Annotated[str, AfterValidator(_re2_pattern), _str(description="RE2; what its capture groups "
                                                                            "match is replaced")]
    replace: Annotated[str, AfterValidator(_plain("replacement"))] = REDACTED


class Redact(Strict):
    add: list[RedactRule] = Field([], description="more rules, applied after the defaults")
    disable: list[Slug] = Field([], description="names of default rules to turn off")


class Logs(Strict):
    redact: Redact = Field(Redact(), description="what the log shipper removes from every line before Loki")


class ErrorTracker(Strict):
    """The Sentry-compatible error tracker (Bugsink) in the stack: one project per reporting service."""
    enabled: StrictBool = False
    url: Url = Field("http://localhost:8010", description=(
        "where people and apps outside the stack reach the tracker: base of issue links and of DSNs"))
    spike: Annotated[float, Field(gt=0)] = Field(
        30, description="error events per minute of one service that page its team (ErrorEventsSpiking, critical)")


class Dora(Strict):
    """How the DORA metrics (dora.py) count."""
    failure_window: DurationText = Field("1h", description=(
        "a deploy followed within this by a critical alert of its service (the last deploy before the alert) "
        "counts as failed in the change failure rate; whole minutes, 5m to 1d"))


class Stack(Strict):
    name: Slug
    environment: Slug = "local"
    team: Optional[Slug] = Field(None, description="team that owns the stack itself (self-monitoring alerts)")
    scrape_interval: DurationText = "15s"
    evaluation_interval: Optional[DurationText] = Field(None, description="default: scrape_interval")
    retention: DurationText = Field("30d", description="how long Prometheus keeps samples; at least 30d with SLOs "
                                                     "(their window)")
    grafana_url: Optional[Url] = Field(None, description=(
        "Grafana as people open it (base of dashboard and runbook links, its root URL); default: "
        "http://localhost:3000, or http://ENDPOINT when endpoints.grafana is not the Compose service; "
        "with endpoints.grafana null, none: messages carry no Grafana links"))
    prometheus_url: Optional[Url] = Field(None, description=(
        "Prometheus as a browser reaches it (its --web.external-url); default: the published port, "
        "http://localhost:9090, or http://ENDPOINT when endpoints.prometheus is not the Compose service"))
    alertmanager_url: Optional[Url] = Field(None, description=(
        "Alertmanager as a browser reaches it (Silence links, its --web.external-url); default: "
        "http://localhost:9093, or http://ENDPOINT when endpoints.alertmanager is not the Compose service"))
    runbook_base_url: Optional[Url] = Field(
        None, description="runbooks of alerts without a service runbook_url: BASE#alertname")
    endpoints: Endpoints = Endpoints()
    publish_address: IpAddress = Field("127.0.0.1", description=(
        "host address docker-compose.yml publishes Grafana, Prometheus, Alertmanager, the inbox and the demo on; "
        "0.0.0.0 publishes them on every interface"))
    basic_auth: bool = Field(True, description=(
        "Prometheus and Alertmanager ask for a password (user vigil; VIGIL_PROMETHEUS_PASSWORD and "
        "VIGIL_ALERTMANAGER_PASSWORD in .env, generated by make up); false only behind your own authentication"))
    remote_write: list[RemoteWrite] = []
    logs: Logs = Logs()
    error_tracker: ErrorTracker = ErrorTracker()
    status_page: "StatusPage" = Field(default_factory=lambda: StatusPage(), description="the public status page")
    dora: Dora = Field(Dora(), description="how the DORA metrics count")

    @property
    def eval_interval(self) -> Duration:
        return self.evaluation_interval or self.scrape_interval

    @property
    def has_grafana(self) -> bool:
        """Grafana runs here (endpoints.grafana is set) or grafana_url says where people open it.
        Without, links to it would not open: messages leave them out, live commands skip it."""
        return self.grafana_url is not None or self.endpoints.grafana is not None

    def external_url(self, part: str) -> str:
        """Base URL of prometheus, alertmanager or grafana as people (and `vigil status`) open it:
        stack.<part>_url, else the endpoint as this machine reaches it (published_url)."""
        given = {"prometheus": self.prometheus_url, "alertmanager": self.alertmanager_url,
                 "grafana": self.grafana_url}[part]
        return (given or self.endpoints.published_url(part)).rstrip("/")


def _when(value: object) -> dt.datetime:
    """An ISO 8601 time with its offset (YAML reads unquoted ones as datetimes itself)."""
    shown = value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
    problem = ValueError(f"invalid time {shown!r} (write ISO 8601 with an offset, e.g. 2026-12-01T22:00:00Z)")
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise problem from None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise problem
    return value


When = Annotated[dt.datetime, PlainValidator(_when),
                 WithJsonSchema({"type": "string", "format": "date-time",
                                 "description": "ISO 8601 with an offset: 2026-12-01T22:00:00Z"})]


class Announcement(Strict):
    """A notice or maintenance window on the status page, shown from `start` until `end`."""
    title: Annotated[str, Field(min_length=1, max_length=120)]
    text: str = ""
    kind: Literal["notice", "maintenance"] = "notice"
    start: When
    end: Optional[When] = Field(None, description="default: shown until removed")
    services: list[Slug] = Field([], description="services it concerns (default: all)")


class StatusPage(Strict):
    title: Annotated[str, Field(min_length=1, max_length=80)] = "Service status"
    port: Annotated[int, Field(ge=1, le=65535)] = Field(8090, description="port `vigil status-page --serve` "
                                                                          "and its Compose service listen on")
    announcements: list[Announcement] = []


SLACK_CHANNEL_RE = r"^[#@]?[^\s{}]+$"


class Slack(Strict):
    channel: Annotated[str, Field(min_length=2, max_length=80), AfterValidator(_plain("Slack channel")),
                       AfterValidator(_matcher(SLACK_CHANNEL_RE, "Slack channel", "e.g. #ops or @oncall, no spaces"))]
    webhook: EnvVar


class Discord(Strict):
    """A Discord channel's webhook, through its Slack-compatible endpoint (the URL + /slack)."""
    webhook: EnvVar


class Mattermost(Strict):
    """A Mattermost incoming webhook (Slack-compatible); channel overrides the webhook's own."""
    webhook: EnvVar
    channel: Optional[Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_plain("Mattermost channel")),
                                AfterValidator(_matcher(SLACK_CHANNEL_RE, "Mattermost channel",
                                                        "e.g. town-square, no spaces"))]] = None


class PagerDuty(Strict):
    routing_key: EnvVar


EMAIL_RE = r"^[^@\s,{}]+@[^@\s,{}]+$"


class Email(Strict):
    to: Annotated[str, AfterValidator(_plain("e-mail address")),
                  AfterValidator(_matcher(EMAIL_RE, "e-mail address", "one address, e.g. ops@example.com")),
                  _str(format="email")]


class Webhook(Strict):
    url: Url


class Receiver(Strict):
    name: Slug
    slack: Optional[Slack] = None
    discord: Optional[Discord] = None
    mattermost: Optional[Mattermost] = None
    pagerduty: Optional[PagerDuty] = None
    email: Optional[Email] = None
    webhook: Optional[Webhook] = None

    CHANNELS: ClassVar[tuple[str, ...]] = ("slack", "discord", "mattermost", "pagerduty", "email", "webhook")
    CHATS: ClassVar[tuple[str, ...]] = ("slack", "discord", "mattermost")   # Slack-compatible webhooks


class Smtp(Strict):
    """The mail server e-mail receivers send through."""
    smarthost: HostPort
    sender: Annotated[str, AfterValidator(_plain("e-mail address")),
                      AfterValidator(_matcher(EMAIL_RE, "e-mail address", "e.g. alerts@example.com")),
                      _str(format="email")] = Field(alias="from")
    username: Optional[Annotated[str, AfterValidator(_plain("SMTP user name"))]] = None
    password: Optional[EnvVar] = None
    require_tls: bool = True


class Timing(Strict):
    """How long Alertmanager waits before the first notification of a group,
    before telling of new alerts in it, and before repeating it."""
    group_wait: Optional[DurationText] = None
    group_interval: Optional[DurationText] = None
    repeat_interval: Optional[DurationText] = None


class Timings(Strict):
    critical: Timing = Timing()
    warning: Timing = Timing()


class Routing(Strict):
    default_receiver: Slug
    group_by: list[LabelName] = ["alertname", "service"]
    heartbeat_receiver: Optional[Slug] = Field(None, description="receives the always-firing Watchdog alert")
    smtp: Optional[Smtp] = Field(None, description="required when a receiver sends e-mail")
    timings: Timings = Field(Timings(), description="override the per-severity notification timings")


class Notify(Strict):
    critical: list[Slug] = []
    warning: list[Slug] = []


class Team(Strict):
    name: Slug
    notify: Notify = Notify()
    deploys: list[Slug] = Field([], description="receivers `vigil deploy` posts this team's deploy messages to")


class LatencySlo(Strict):
    threshold: DurationText = Field(description="a request is good when it is answered within this; it must be a "
                                                "bucket boundary of the latency histogram, e.g. 250ms")
    objective: Percent = Field(description="percent of requests answered within the threshold over 30 days")


def _request_count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number of requests, 0 or more (0 turns the low-traffic guard off), "
                         f"got {value!r}")
    return value


class Slo(Strict):
    """Objectives over 30 days; alerts on the rate the error budget burns (kind http)."""
    availability: Optional[Percent] = Field(None, description="percent of requests answered without a 5xx "
                                                              "over 30 days, e.g. 99.9")
    latency: Optional[LatencySlo] = None
    min_requests: Annotated[int, PlainValidator(_request_count),
                            WithJsonSchema({"type": "integer", "minimum": 0})] = Field(
        100, description="requests a burn-rate condition's long window (1h, 6h, 1d or 3d) must hold before it "
                         "fires: a handful of failures among very few requests is no emergency. 0 turns the "
                         "guard off")


class RuleTest(Strict):
    """Example series for a user rule: with `series` it must fire, with `quiet` it must not."""
    series: dict[str, SeriesValues] = Field(description="promtool series -> values, e.g. {'queue_depth': '150x40'}")
    quiet: dict[str, SeriesValues] = {}
    labels: Optional[dict[LabelName, LabelValue]] = Field(
        None, description="labels the firing alert keeps from its expression (default: those of the series)")
    value: Optional[float] = Field(None, description="the value the alert fires with, when annotations use $value")


class UserRule(Strict):
    alert: AlertName
    expr: Annotated[str, Field(min_length=1)]
    for_: DurationText = Field("0s", alias="for")
    severity: Severity = "warning"
    summary: Annotated[str, Field(min_length=1)]
    description: str = ""
    labels: dict[LabelName, LabelValue] = {}
    test: Optional[RuleTest] = None


class Panel(Strict):
    title: Annotated[str, Field(min_length=1)]
    expr: Annotated[str, Field(min_length=1)]
    unit: str = "short"
    type: Literal["timeseries", "stat", "gauge", "bargauge", "table"] = "timeseries"
    legend: str = ""


class Service(Strict):
    name: ServiceName
    team: Slug
    kind: Kind
    targets: Optional[list[HostPort]] = None
    url: Optional[Url] = Field(None, description="probe only: the URL the blackbox exporter checks")
    metrics_path: Annotated[str, Field(pattern=r"^/\S*$"), AfterValidator(_plain("path"))] = "/metrics"
    instrumentation: Any = Field(None, json_schema_extra={
        "description": "http only: a preset name, or {requests, status_label, duration, route_label, buckets}"})
    health_url: Optional[Url] = None
    runbook_url: Optional[Url] = None
    labels: dict[LabelName, LabelValue] = {}
    slo: Optional[Slo] = None
    alerts: dict[str, Any] = Field({}, description="per alert: thresholds and `for` to override; `disabled: [names]`")
    rules: list[UserRule] = []
    panels: list[Panel] = []
    errors: Optional[StrictBool] = Field(None, description=(
        "whether it reports exceptions to the error tracker with a Sentry SDK (default: yes for http and job "
        "when stack.error_tracker is enabled)"))
    public: Optional[bool] = Field(None, description="on the public status page (default: probes and services "
                                                     "with a health_url)")
    pushgateway: Optional[StrictBool] = Field(None, description=(
        "job only: its targets are Pushgateways; the pushed job and instance labels win (honor_labels) and "
        "JobPushStale watches each pushed group"))

    @property
    def on_status_page(self) -> bool:
        return self.public if self.public is not None else (self.kind == "probe" or self.health_url is not None)


class Inventory(Strict):
    version: Annotated[Literal[1], BeforeValidator(_version)]
    stack: Stack
    receivers: list[Receiver] = Field(min_length=1)
    routing: Routing
    teams: list[Team] = Field(min_length=1)
    services: list[Service] = []


Stack.model_rebuild()
