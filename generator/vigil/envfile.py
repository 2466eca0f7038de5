"""Secrets: the inventory names environment variables; .env holds their values;
Alertmanager reads them from files under alertmanager/secrets/ (never from a
rendered config). This module knows which variables the inventory needs,
reads .env, and writes the secret files.

Docker Compose reads a few more from .env itself, when it starts the stack
(compose_needs): Grafana's admin password and the exporters' connection
settings. They never become files under alertmanager/secrets/."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import dotenv, exporters, webauth
from .inventory import Inventory

SECRETS = Path("alertmanager") / "secrets"


@dataclass(frozen=True)
class Need:
    variable: str
    what: str          # "Slack incoming-webhook URL"
    used_by: tuple     # receiver names (or "routing.smtp"); for compose_needs, Compose services
    slack: bool = False
    required: bool = True


def needs(inventory: Inventory) -> list[Need]:
    """Every variable the inventory names, in first-use order."""
    found: dict[str, list] = {}
    for r in inventory.receivers:
        if r.slack:
            found.setdefault(r.slack.webhook, ["Slack incoming-webhook URL", [], True])[1].append(r.name)
        if r.pagerduty:
            found.setdefault(r.pagerduty.routing_key, ["PagerDuty Events v2 routing key", [], False])[1].append(r.name)
    smtp = inventory.routing.smtp
    if smtp and smtp.password:
        found.setdefault(smtp.password, ["SMTP password", [], False])[1].append("routing.smtp")
    return [Need(v, what, tuple(users), slack) for v, (what, users, slack) in found.items()]


GRAFANA_PASSWORD = "GF_SECURITY_ADMIN_PASSWORD"


def compose_needs(inventory: Inventory) -> list[Need]:
    """The variables docker-compose.yml takes from .env: Grafana's admin password
    (no default: Compose refuses to start without it) and the connection settings
    of every exporter the stack runs (exporters.py)."""
    out = [Need(GRAFANA_PASSWORD, "Grafana admin password (no default: the stack does not start without it)",
                ("grafana",))]
    if inventory.stack.basic_auth:   # webauth.py: `vigil secrets` reads them too
        out += [Need(webauth.variable(p), f"{p.title()}'s password for user {webauth.USER} (make up generates it)",
                     (p, *webauth.CLIENTS[p])) for p in webauth.PARTS]
    for service, exporter in exporters.run_by_stack(inventory):
        for s in exporter.settings:
            out.append(Need(exporters.variable(service, s), s.what, (exporters.host(service),), required=s.required))
    return out


def example(inventory: Inventory) -> bytes:
    """.env.example: every variable the inventory names, empty, with what it is."""
    lines = ["# Secrets for Vigil. Copy to .env (git-ignored) and fill in; `make up` turns them into",
             "# files under alertmanager/secrets/. Generated from the inventory by `vigil generate`.", ""]
    for n in needs(inventory):
        lines.append(f"# {n.what}, for {', '.join(n.used_by)}"
                     + (" (empty: notifications go to the local inbox)" if n.slack else ""))
        lines.append(f"{n.variable}=")
    lines += ["", "# Read by Docker Compose when it starts the stack (docker-compose.yml); never written to files.",
              "# GF_SECURITY_ADMIN_USER is optional (default: admin).", ""]
    for n in compose_needs(inventory):
        lines.append(f"# {n.what}, for {', '.join(n.used_by)}" + ("" if n.required else " (optional)"))
        lines.append(f"{n.variable}=")
    return ("\n".join(lines) + "\n").encode()


class EnvFileError(Exception):
    """A .env Compose would refuse (or that is not UTF-8): `FILE:LINE: what is wrong`."""


def read_env(path: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of a .env file, exactly as Docker Compose reads them (vigil.dotenv):
    ${VAR} looks in `environ` (default: this process's environment) first, then above."""
    if not path.is_file():
        return {}
    environ = os.environ if environ is None else environ
    try:
        return dotenv.parse(dotenv.decode(path.read_bytes()), environ.get)
    except dotenv.DotenvError as e:
        raise EnvFileError(f"{path}:{e.line}: {e.message}") from None
    except OSError as e:
        raise EnvFileError(f"{path}: cannot read it ({e.strerror})") from None


def values(inventory: Inventory, env_file: Path) -> tuple[dict[str, str], list[Need]]:
    """-> (variable -> value, the needs left without a value). As in Compose, the
    environment wins over .env."""
    env = {**read_env(env_file), **os.environ}
    got, missing = {}, []
    for n in needs(inventory):
        if env.get(n.variable):
            got[n.variable] = env[n.variable]
        else:
            missing.append(n)
    return got, missing


def write_secrets(root: Path, secrets: dict[str, str], under: Path = SECRETS) -> None:
    """One file per variable (in `under`, alertmanager/secrets/ by default), readable by its owner
    only; stale ones removed."""
    folder = root / under
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    for old in folder.iterdir():
        if old.is_file() and old.name not in secrets:
            old.unlink()
    for name, value in secrets.items():
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value)
        os.chmod(path, 0o600)
