"""How Vigil's logs are labelled and read: one place for the Loki stream labels the
log shipper sets and the JSON fields the dashboards and log alerts look at.

Stream labels stay few and bounded (Loki indexes them): the inventory's `service`
and `team`, and the log `level`, lower-cased. Everything else in a JSON line is
read at query time with `| json`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .rules import promql_number
from .units import Duration

SERVICE, TEAM, LEVEL = "service", "team", "level"
ERROR_LEVELS = ("error", "critical", "fatal")   # `level` values that count as errors
ERROR_TYPE = "error_type"                        # JSON field: the exception's class, e.g. KeyError
MESSAGE = "msg"                                  # JSON field: the message
REQUEST_ID = "request_id"                        # JSON field: ties a line to one request
JSON_FIELDS = (LEVEL, MESSAGE, REQUEST_ID, ERROR_TYPE)   # what the shipper extracts from a JSON line
CONTAINER = "container"                          # stream label: the container's name (not an inventory name)


def stream(service: str, errors: bool = False) -> str:
    """The stream selector of a service's logs (only its error lines with `errors`)."""
    level = f',{LEVEL}=~"{"|".join(ERROR_LEVELS)}"' if errors else ""
    return f'{{{SERVICE}="{service}"{level}}}'


def error_types(service: str, window: str) -> str:
    """The ten most frequent exception classes of a service's error lines over `window`
    (Sentry-style grouping)."""
    return (f"topk(10, sum by ({ERROR_TYPE}) (count_over_time({stream(service, errors=True)} | json "
            f'| {ERROR_TYPE} != "" [{window}])))')


STACKTRACE = "stacktrace"                        # JSON field: the formatted traceback of an error line


def errors_of(services: str) -> str:
    """Error lines carrying an exception class, of the services matching a regex, parsed."""
    level = "|".join(ERROR_LEVELS)
    return f'{{{SERVICE}=~"{services}",{LEVEL}=~"{level}"}} | json | {ERROR_TYPE} != ""'


def errors_by_type(services: str, window: str) -> str:
    """Error lines over `window` by service and exception class (Sentry's issues)."""
    return f"sum by ({SERVICE}, {ERROR_TYPE}) (count_over_time({errors_of(services)} [{window}]))"


def error_seen(services: str, window: str, last: bool) -> str:
    """When each (service, exception class) was first (or last) logged in `window`, in
    epoch milliseconds: each line's own timestamp, unwrapped as a number."""
    fn = "max_over_time" if last else "min_over_time"
    agg = "max" if last else "min"
    return (f"{agg} by ({SERVICE}, {ERROR_TYPE}) ({fn}({errors_of(services)} "
            f'| label_format seen=`{{{{ __timestamp__ | unixEpoch }}}}` | unwrap seen [{window}])) * 1000')


# ---------------------------------------------------------------- log alerts (the Loki ruler)
#
# ErrorLogSpike, for every `http` and `job` service: its error lines over WINDOW
# are above an absolute FLOOR *and* RATIO times its average WINDOW count over the
# BASELINE before (offset by WINDOW, so a burst does not raise its own baseline).
# A service that never logged errors has no baseline series: `or vector(0)` makes
# it 0, so a first burst over the floor fires. A service that always logs many
# errors does not page: its baseline follows it, and a sustained spike resolves
# once it has lasted BASELINE. Sums without `by`, so both sides match on the empty
# label set; the rule's own labels say whose alert it is.

ERROR_SPIKE = "ErrorLogSpike"
ERROR_SPIKE_KINDS = ("http", "job")       # kinds whose containers log to Vigil's conventions
ERROR_SPIKE_WINDOW = "5m"
ERROR_SPIKE_BASELINE = "1h"
ERROR_SPIKE_FLOOR = 10                    # error lines in WINDOW, whatever the baseline
ERROR_SPIKE_RATIO = 3                     # times the average WINDOW of the BASELINE before
ERROR_SPIKE_FOR = "2m"
ERROR_SPIKE_SEVERITY = "warning"


def error_count(service: str, window: str, offset: str | None = None) -> str:
    """Error lines of a service over `window` (ending `offset` ago), summed to one series."""
    shift = f" offset {offset}" if offset else ""
    return f"sum(count_over_time({stream(service, errors=True)}[{window}]{shift}))"


def error_spike(service: str, floor: float = ERROR_SPIKE_FLOOR, ratio: float = ERROR_SPIKE_RATIO,
                window: str = ERROR_SPIKE_WINDOW, baseline: str = ERROR_SPIKE_BASELINE) -> str:
    """The LogQL of ErrorLogSpike; its value is the error lines of the last `window`."""
    w, b = Duration.parse(window), Duration.parse(baseline)
    if b % w or b <= w:
        raise ValueError(f"baseline {baseline} must be a multiple of the window {window}")
    now = error_count(service, window)
    before = f"{error_count(service, baseline, offset=window)} / {b // w}"
    return f"({now} > {promql_number(floor)}) and ({now} > {promql_number(ratio)} * (({before}) or vector(0)))"


# ---------------------------------------------------------------- redaction before storage
#
# The log shipper rewrites every line before it reaches Loki: one Alloy stage.replace
# per rule, in this order, on the raw line before any parsing. Patterns are RE2 (Go's
# regexp: no lookaround, no backreferences), unanchored; as in stage.replace, only what
# the capture groups matched is replaced, so "Authorization: Bearer abc" keeps its
# "Authorization: Bearer " and a JSON line stays JSON. `replace` is a Go template in
# Alloy: the markers hold no `{{`.
#
# Choices against false positives (tests/data/redaction/ordinary.txt holds the lines
# that must pass untouched): an e-mail must not be followed by ':' (git@github.com:org/
# repo.git, deploy@host.example.com:/srv are remotes, not addresses); a lone "bearer"
# takes only a token with a digit or of 16+ characters ("Bearer bonds" stays); key=value
# rules need the key to end in the secret word (tokens_used=5 stays) and leave JSON
# non-strings alone ("password": null stays JSON); card numbers need a card prefix and
# either 4-4-4-4 / 4-6-5 separators or exactly a card's length, between word
# boundaries (order_4242... and 13-digit epoch milliseconds, which start with 1, stay).

REDACTED = "<redacted>"
REDACTED_EMAIL = "<redacted-email>"
REDACTED_CARD = "<redacted-card>"


@dataclass(frozen=True)
class Redaction:
    name: str
    pattern: str                      # RE2; every capture group that matched is replaced
    replace: str = REDACTED


_SECRET_KEY = (r"(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
               r"client[_-]?secret|secret[_-]?key|encryption[_-]?key|master[_-]?key|credentials?|auth[_-]?key|"
               r"signing[_-]?key|session[_-]?id)")
_QUOTED = r"(?:\"((?:[^\"\\\r\n]|\\.)*)\"|'((?:[^'\\\r\n]|\\.)*)')"   # "..." or '...', escapes kept inside
_TOKEN = r"[A-Za-z0-9._~+/=-]"
_AUTHORIZATION = r"(?i)\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"   # the header, or a key of that name
_MULTI_SCHEMES = r"digest|negotiate|ntlm|hoba|mutual|aws4-hmac-sha256|signature|hawk"   # credentials of k=v parts
_CARD_PREFIX = r"(?:4[0-9]{3}|5[1-5][0-9]{2}|2[2-7][0-9]{2}|6011|65[0-9]{2})"   # Visa, Mastercard, Discover

REDACTIONS: tuple[Redaction, ...] = (
    Redaction("pem-private-key",
              r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----((?s:.+?))(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$)"),
    # Digest and the like: the whole credential, its quoted parameters (k="v") included, up to
    # the end of the line or of the JSON string it is in (\" escapes inside)
    Redaction("authorization-multi",
              rf"{_AUTHORIZATION}(?:{_MULTI_SCHEMES})\s+((?:[^\"'\\\r\n=]|\\.|=\"[^\"\r\n]*\"|=)+)"),
    # any other scheme (Basic, Bearer, Token, ApiKey, ...), or none: the credential's one word
    # (a multi-part scheme's word too: its credential is already redacted above)
    Redaction("authorization",
              rf"{_AUTHORIZATION}(?:(?:basic|bearer|token|apikey|api-key|key|sso-key|jwt|otp|{_MULTI_SCHEMES})\s+)?"
              r"([^\s\"',;}\]]+)"),
    Redaction("bearer-token", rf"(?i)\bbearer\s+({_TOKEN}{{16,}}|{_TOKEN}{{2,}}[0-9]{_TOKEN}{{2,}})"),
    Redaction("jwt", r"\b(eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)"),
    # scheme://user:PASSWORD@host (also redis://:PASSWORD@host)
    Redaction("url-password", r"(?i)\b[a-z][a-z0-9+.-]*://[^\s/:@]*:([^\s/@]+)@"),
    Redaction("set-cookie", r"(?i)\bset-cookie[\"']?\s*[:=]\s*[\"']?[^=;\s\"']+=([^;\s\"']+)"),
    Redaction("cookie", r"(?i)(?:^|[^-\w])cookie[\"']?\s*[:=]\s*[\"']?([^\"'\r\n]+)"),
    # "password": "..." in JSON (or a Python repr); non-strings are left alone
    Redaction("secret-json", rf"(?i)[\"'][\w.-]*{_SECRET_KEY}[\"']\s*:\s*{_QUOTED}"),
    # password=..., api_key: ..., X-Api-Key: ... (logfmt, query strings, headers, DSNs)
    # (after '=' a value ends at '&', as in a query string; after ':' it may hold one)
    Redaction("secret-key-value",
              rf"(?i)\b[\w.-]*{_SECRET_KEY}\s*(?:=\s*(?:{_QUOTED}|([^\s&,;\"'<>(){{}}\[\]]+))|"
              rf":\s*(?:{_QUOTED}|([^\s,;\"'<>(){{}}\[\]]+)))"),
    Redaction("aws-access-key", r"\b((?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b"),
    Redaction("github-token", r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    Redaction("gitlab-token", r"\b(glpat-[A-Za-z0-9_-]{20,})"),
    Redaction("slack-webhook", r"(?i)hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/-]+)"),
    Redaction("slack-token", r"\b(xox[abposr]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,})"),
    Redaction("stripe-key", r"\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{20,})"),
    Redaction("google-api-key", r"\b(AIza[0-9A-Za-z_-]{35})"),
    Redaction("sendgrid-key", r"\b(SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})"),
    Redaction("npm-token", r"\b(npm_[A-Za-z0-9]{36})\b"),
    Redaction("openai-key", r"\b(sk-(?:proj-)?[A-Za-z0-9_-]{32,})"),
    Redaction("card-number",
              rf"\b({_CARD_PREFIX}(?: [0-9]{{4}}){{3}}|{_CARD_PREFIX}(?:-[0-9]{{4}}){{3}}|"
              r"3[47][0-9]{2}[ -][0-9]{6}[ -][0-9]{5}|"
              r"4[0-9]{15}|4[0-9]{12}|5[1-5][0-9]{14}|2[2-7][0-9]{14}|3[47][0-9]{13}|6011[0-9]{12}|65[0-9]{14})\b",
              REDACTED_CARD),
    # an address, not a git remote, scp path or URL user (git@host:org/repo, ssh://git@host/repo):
    # what follows is no ':' or '/' nor more of the host name (a '.' only at a sentence's end)
    # (letters and digits of any script: josé@example.com and ops@exämple.com are addresses too)
    Redaction("email", r"([\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,})"
                       r"(?:[^:/.\p{L}\p{N}-]|\.(?:[^\p{L}\p{N}-]|$)|$)", REDACTED_EMAIL),
)


def redactions(stack) -> tuple[Redaction, ...]:
    """The rules the shipper applies: the defaults less stack.logs.redact.disable, then
    stack.logs.redact.add, in order."""
    redact = stack.logs.redact
    off = set(redact.disable)
    return tuple(r for r in REDACTIONS if r.name not in off) + tuple(
        Redaction(r.name, r.pattern, r.replace) for r in redact.add)
