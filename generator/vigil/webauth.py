"""Basic auth in front of Prometheus and Alertmanager (stack.basic_auth, on by default).

One user, `vigil`, with one password per part, from .env (`make up` generates them).
Each part checks bcrypt hashes from a web config file (`--web.config.file`, the
exporter-toolkit format both speak); each client sends the password: Prometheus
reads it from a file (`password_file`), Grafana and Loki's ruler from their
environment (Compose passes it), the `vigil` commands from .env.

A hash is a password to crack offline, so the web configs are secrets like the
password files: `vigil secrets` writes them (mode 0600, git-ignored) under each
part's own `secrets/` folder, which its configs name relative to themselves —
never `vigil generate`, never a rendered file.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import bcrypt
import yaml

USER = "vigil"
PARTS = ("prometheus", "alertmanager")
PASSWORDS = {"prometheus": "VIGIL_PROMETHEUS_PASSWORD", "alertmanager": "VIGIL_ALERTMANAGER_PASSWORD"}
CLIENTS = {"prometheus": ("grafana",), "alertmanager": ("prometheus", "grafana", "loki")}   # besides `vigil`
SECRETS = "secrets"               # under each part's directory: prometheus/secrets/, alertmanager/secrets/
WEB, HEADER = "web.yml", "authorization"      # in it: the web config; the header of the part's own healthcheck
WEB_CONFIG = f"{SECRETS}/{WEB}"               # relative to the part's directory (its working directory)
AUTHORIZATION = f"{SECRETS}/{HEADER}"
ROUNDS = 12                       # bcrypt's default cost; both parts cache a checked password
# Loki's -config.expand-env pastes the Alertmanager password into its YAML as it is, before parsing:
# only characters that stay one plain string there (what `make up` generates: secrets.token_urlsafe).
GOOD_PASSWORD = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9_-]{16,}")
BAD_PASSWORD = "use 16 or more letters, digits, - and _ (`make up` generates such a password when it is empty)"


def folder(part: str) -> Path:
    return Path(part) / SECRETS


def _password_name(part: str) -> str:
    return f"{part}.password"


def password_file(part: str) -> str:
    """Where Prometheus reads the password it sends to `part`, relative to prometheus.yml."""
    return f"{SECRETS}/{_password_name(part)}"


def variable(part: str) -> str:
    return PASSWORDS[part]


def reference(part: str) -> str:
    """The password as a ${VAR} that Grafana's provisioning and Loki's -config.expand-env expand."""
    return f"${{{PASSWORDS[part]}}}"


def header(password: str, user: str = USER) -> str:
    """The Authorization header value of basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def web_config(password: str, old: Path | None = None) -> str:
    """The web config of a part; the hash already in `old` is kept while it still matches, so
    `vigil secrets` is idempotent (and a part's cache of checked passwords stays warm)."""
    hashed = _matching_hash(old, password) or bcrypt.hashpw(password.encode(), bcrypt.gensalt(ROUNDS)).decode()
    return yaml.safe_dump({"basic_auth_users": {USER: hashed}}, default_flow_style=False)


def _matching_hash(path: Path | None, password: str) -> str | None:
    if path is None or path.is_symlink() or not path.is_file():
        return None
    try:
        hashed = yaml.safe_load(path.read_text())["basic_auth_users"][USER]
        return hashed if bcrypt.checkpw(password.encode(), hashed.encode()) else None
    except (OSError, ValueError, TypeError, KeyError, yaml.YAMLError):
        return None


def files(env: dict[str, str], root: Path) -> tuple[dict[str, dict[str, str]], dict[str, str | None]]:
    """-> ({part: {file name in folder(part): content}}, {password variable: what is wrong with it,
    None when env lacks it}). Prometheus gets both passwords (it scrapes itself and Alertmanager and
    sends it alerts)."""
    problems = {PASSWORDS[p]: None if not env.get(PASSWORDS[p]) else BAD_PASSWORD for p in PARTS
                if not GOOD_PASSWORD.fullmatch(env.get(PASSWORDS[p], ""))}
    if problems:
        return {}, problems
    out: dict[str, dict[str, str]] = {}
    for part in PARTS:
        password = env[PASSWORDS[part]]
        out[part] = {WEB: web_config(password, root / part / WEB_CONFIG), HEADER: header(password)}
    out["prometheus"].update({_password_name(p): env[PASSWORDS[p]] for p in PARTS})
    return out, {}
