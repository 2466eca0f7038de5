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

from . import dotenv, exporters, tracker, webauth
from .inventory import Inventory
from .write import Tree, listing, parse_manifest, sha

SECRETS = Path("alertmanager") / "secrets"


@dataclass(frozen=True)
class Need:
    variable: str
    what: str          # "Slack incoming-webhook URL"
    used_by: tuple     # receiver names (or "routing.smtp"); for compose_needs, Compose services
    chat: str | None = None   # slack, discord or mattermost: a Slack-compatible webhook (the inbox can stand in)
    required: bool = True

    def secret(self, value: str) -> str:
        """What the secret file holds: Alertmanager posts to the file's URL as it is, and Discord
        speaks Slack's contract at its webhook URL + /slack."""
        if self.chat == "discord" and not value.rstrip("/").endswith("/slack"):
            return value.rstrip("/") + "/slack"
        return value


CHAT_WHAT = {"slack": "Slack incoming-webhook URL", "discord": "Discord webhook URL (Vigil appends /slack)",
             "mattermost": "Mattermost incoming-webhook URL"}


def needs(inventory: Inventory) -> list[Need]:
    """Every variable the inventory names, in first-use order."""
    found: dict[str, list] = {}
    for r in inventory.receivers:
        for chat in r.CHATS:
            if getattr(r, chat):
                found.setdefault(getattr(r, chat).webhook, [CHAT_WHAT[chat], [], chat])[1].append(r.name)
        if r.pagerduty:
            found.setdefault(r.pagerduty.routing_key, ["PagerDuty Events v2 routing key", [], None])[1].append(r.name)
    smtp = inventory.routing.smtp
    if smtp and smtp.password:
        found.setdefault(smtp.password, ["SMTP password", [], None])[1].append("routing.smtp")
    return [Need(v, what, tuple(users), chat) for v, (what, users, chat) in found.items()]


GRAFANA_PASSWORD = "GF_SECURITY_ADMIN_PASSWORD"
GRAFANA_USER, GRAFANA_DEFAULT_USER = "GF_SECURITY_ADMIN_USER", "admin"   # optional: Compose defaults it


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
    if tracker.enabled(inventory.stack):
        out += [Need(tracker.SECRET_KEY, "Bugsink's secret key (make up generates it)", ("bugsink",)),
                Need(tracker.ADMIN, f"Bugsink admin password, user {tracker.ADMIN_EMAIL} (make up generates it)",
                     ("bugsink",)),
                Need(tracker.TOKEN, "Bugsink API token (make up creates it once Bugsink runs)",
                     ("errors-exporter",), required=False)]
        from .render.compose import DEMO, demo_reports   # the one service Compose runs with a DSN
        if demo_reports(inventory):
            out.append(Need(tracker.dsn_variable(DEMO), "Sentry DSN of the demo (vigil errors provision writes it)",
                            (DEMO,), required=False))
    return out


def example(inventory: Inventory) -> bytes:
    """.env.example: every variable the inventory names, empty, with what it is."""
    lines = ["# Secrets for Vigil. Copy to .env (git-ignored) and fill in; `make up` turns them into",
             "# files under alertmanager/secrets/. Generated from the inventory by `vigil generate`.", ""]
    for n in needs(inventory):
        lines.append(f"# {n.what}, for {', '.join(n.used_by)}"
                     + (" (empty: notifications go to the local inbox)" if n.chat else ""))
        lines.append(f"{n.variable}=")
    lines += ["", "# Read by Docker Compose when it starts the stack (docker-compose.yml); never written to files.",
              f"# {GRAFANA_USER} is optional (default: {GRAFANA_DEFAULT_USER}).", ""]
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


def environment(path: Path) -> dict[str, str]:
    """The variables of .env and of this process's environment, which wins (as in Compose)."""
    return {**read_env(path), **os.environ}


def values(inventory: Inventory, env_file: Path) -> tuple[dict[str, str], list[Need]]:
    """-> (variable -> value, the needs left without a value), from environment()."""
    env = environment(env_file)
    got, missing = {}, []
    for n in needs(inventory):
        if env.get(n.variable):
            got[n.variable] = n.secret(env[n.variable])
        else:
            missing.append(n)
    return got, missing


SECRETS_MANIFEST = ".vigil-secrets"
_SECRETS_HEADER = "# Secret files written by `vigil secrets`, with their sha256: it removes only these.\n"


def write_secrets(root: Path, folders: dict[Path, dict[str, str]], waiting=lambda: None) -> list[tuple[str, str]]:
    """One file per variable in its folder (SECRETS, and webauth's), readable by its owner only
    (folders 0700, files 0600). A file it wrote before and no longer needs is removed while its
    content is still what it wrote; one it did not write never is: -> [(file, why it was kept)].
    Links are refused, never followed (write.Tree), and every folder is checked before anything
    is written."""
    with Tree(root, create=True) as tree:
        tree.lock(waiting)
        plans, kept = [], []
        for under, secrets in folders.items():
            folder = Path(under).as_posix()
            fd = tree.folder(folder, create=True)
            written = parse_manifest(tree.read(f"{folder}/{SECRETS_MANIFEST}"))
            for name in secrets:
                tree.read(f"{folder}/{name}")     # an OutputError for a link or a folder there
            stale = []
            for name in tree.names(folder):
                if name in secrets or name == SECRETS_MANIFEST or name.endswith(".vigil-tmp"):
                    continue
                why = tree.kind(f"{folder}/{name}")
                if why is None and sha(tree.read(f"{folder}/{name}")) not in written.get(name, ()):
                    why = "changed since vigil secrets wrote it" if name in written else "not written by vigil secrets"
                (kept.append((f"{folder}/{name}", why)) if why else stale.append(name))
            plans.append((folder, fd, secrets, written, stale))
        for folder, fd, secrets, written, stale in plans:
            os.fchmod(fd, 0o700)
            own = f"{folder}/{SECRETS_MANIFEST}"
            new = {name: {sha(value.encode())} for name, value in secrets.items()}
            # Intent first: until the end, the listing names everything this run may leave behind.
            tree.write(own, listing({**written, **{n: written.get(n, set()) | h for n, h in new.items()}},
                                    _SECRETS_HEADER), 0o600)
            for name, value in secrets.items():
                tree.write(f"{folder}/{name}", value.encode(), 0o600)
            for name in stale:
                tree.remove(f"{folder}/{name}")
            tree.write(own, listing(new, _SECRETS_HEADER), 0o600)
    return kept
