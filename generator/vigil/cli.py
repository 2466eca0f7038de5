"""The `vigil` command: thin, it only wires load -> validate -> plan -> render -> write."""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import annotate, check, deploy, envfile, inbox, live, statuspage, tracker, tracker_exporter, webauth
from .errors import InventoryError, did_you_mean
from .inventory import ErrorTracker
from .render import compose
from .render.shards import render_inventory
from .validate import load_inventory
from .write import (MANIFEST, OutputError, Tree, compare, diff, inputs_digest, previous, remember, unchanged,
                    with_manifest, write)

EXIT_STALE, EXIT_INVALID, EXIT_STACK_DOWN = 1, 2, 3
EXIT_TOKEN_STALE = 4    # vigil errors token: Bugsink refuses the token (scripts/tracker.sh then makes a fresh one)


def _inventory(args, then: str = "nothing written"):
    try:
        return load_inventory(args.inventory)
    except InventoryError as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        n = len(e.problems)
        print(f"{args.inventory}: {n} problem{'s' * (n != 1)}; {then}", file=sys.stderr)
        return None


HEARTBEAT_DOCS = "docs/inventory.md#routing"


def cmd_validate(args) -> int:
    inventory = _inventory(args)
    if inventory is None:
        return EXIT_INVALID
    if args.strict:
        _, missing = envfile.values(inventory, Path(args.env))
        env = envfile.environment(Path(args.env))
        missing += [n for n in envfile.compose_needs(inventory) if n.required and not env.get(n.variable)]
        for n in missing:
            print(f"{args.env}: {n.variable} is not set ({n.what}, for {', '.join(n.used_by)})", file=sys.stderr)
        if missing:
            return EXIT_INVALID
    if (args.strict or args.hints) and not inventory.routing.heartbeat_receiver:
        # A warning, not an error: a local trial needs none, a real stack does.
        print(f"{args.inventory}: warning: routing.heartbeat_receiver is not set: Watchdog goes nowhere and a dead "
              f"stack goes unnoticed; point it at an external dead-man's switch ({HEARTBEAT_DOCS})", file=sys.stderr)
    print(f"{args.inventory}: valid ({len(inventory.services)} services, {len(inventory.teams)} teams, "
          f"{len(inventory.receivers)} receivers)")
    return 0


def _render(args) -> dict[str, bytes] | None:
    """The whole tree, in memory; None (problems printed) for an invalid inventory."""
    # The loaded inventory and the plan are many small objects, kept to the end: the collector would
    # walk them again and again for nothing (at 10,000 services, 40% of loading and a sixth of rendering).
    gc.disable()
    try:
        inventory = _inventory(args)
        return None if inventory is None else with_manifest(render_inventory(inventory))
    finally:
        gc.enable()


def _waiting(root: Path):
    return lambda: print(f"{root}: another vigil run is writing here; waiting for it to finish",
                         file=sys.stderr, flush=True)


def _locked(root: Path, create: bool) -> Tree:
    """The output tree, held against other runs (a second one waits, and says so)."""
    tree = Tree(root, create=create)
    try:
        tree.lock(_waiting(root))
    except BaseException:
        tree.__exit__()
        raise
    return tree


def _protect(args, root: Path) -> set[str]:
    """The inventory itself, when it lives in the tree: never removed, whatever a manifest says."""
    try:
        return {Path(args.inventory).resolve().relative_to(root.resolve()).as_posix()}
    except (ValueError, OSError):
        return set()


def _apply(tree: Tree, files: dict[str, bytes], inputs: str | None, protect, changes=None) -> None:
    """Write the rendered files into the (locked) tree; say what changed and what it left alone."""
    changes = compare(tree, files, protect) if changes is None else changes
    for path, why in changes.kept:
        print(f"{tree.where(path)}: kept, though {MANIFEST} lists it: {why}", file=sys.stderr)
    if changes.pending:
        print(f"{tree.root}: completing a run that was interrupted", file=sys.stderr)
    write(tree, files, changes)
    if inputs:
        remember(tree, inputs, files)
    print(f"{tree.root}: {changes.summary()}, {len(files) - len(changes.added) - len(changes.changed)} unchanged")


def _refused(e: OutputError) -> int:
    print(e, file=sys.stderr)
    print("stopped part-way: once that is fixed, the next run completes the change" if e.partial
          else "nothing changed", file=sys.stderr)
    return EXIT_INVALID


def cmd_generate(args) -> int:
    root = Path(args.output)
    if args.check or args.diff:
        return _report(args, root)
    try:
        inputs = inputs_digest(Path(args.inventory).read_bytes())
    except OSError:
        inputs = None   # _inventory() reports it
    tree = None
    try:
        # The no-op shortcut only over an existing tree: an invalid inventory must create nothing.
        if root.is_dir():
            tree = _locked(root, create=False)
            if inputs and unchanged(tree, inputs):
                print(f"{root}: rendered files are up to date (nothing to do)")
                return 0
        files = _render(args)
        if files is None:
            return EXIT_INVALID
        tree = tree or _locked(root, create=True)
        _apply(tree, files, inputs, _protect(args, root))
        return 0
    except OutputError as e:
        return _refused(e)
    finally:
        if tree is not None:
            tree.__exit__()


def _report(args, root: Path) -> int:
    """--check and --diff: compare, write nothing."""
    files = _render(args)
    if files is None:
        return EXIT_INVALID
    try:
        with Tree(root) as tree:
            changes = compare(tree, files, _protect(args, root))
            if args.diff:
                sys.stdout.write(diff(tree, files, changes))
    except OutputError as e:
        return _refused(e)
    if changes:
        interrupted = " after an interrupted run" if changes.pending else ""
        print(f"{root}: rendered files are stale{interrupted} ({changes.summary()}); run `make generate`",
              file=sys.stderr)
        return EXIT_STALE
    print(f"{root}: rendered files are up to date ({len(files)} files)")
    return 0


def cmd_reload(args) -> int:
    """Render, check the result in a staging folder, then replace the live tree and reload:
    a change the checks refuse touches neither the files nor the running stack, and one the
    running Prometheus or Alertmanager refuses puts the previous files back."""
    parts = args.only.split(",") if args.only else list(live.PARTS)
    unknown = sorted(set(parts) - set(live.PARTS))
    if unknown:
        print(f"vigil reload: --only takes {', '.join(live.PARTS)} (not {', '.join(unknown)})", file=sys.stderr)
        return EXIT_INVALID
    files = _render(args)
    if files is None:
        return EXIT_INVALID
    root = Path(args.output)
    if all(shutil.which(t) for t in check.TOOLS):
        with tempfile.TemporaryDirectory(prefix="vigil-staging-") as staging:
            with Tree(Path(staging)) as tree:
                write(tree, files, compare(tree, files))
            if check.run(Path(staging)) != 0:
                print(f"vigil reload: the new files do not pass the checks; {root} and the running stack "
                      "are as they were", file=sys.stderr)
                return 1
    else:
        print(f"{' and '.join(check.TOOLS)} not on PATH: Prometheus and Alertmanager check the files themselves; "
              "if they refuse them, the previous files go back")
    urls = _urls(args, *live.PARTS)
    if urls is None:
        return EXIT_INVALID
    if "grafana" in parts and dict(zip(live.PARTS, urls))["grafana"] is None:   # nothing to reload, nothing failed
        parts.remove("grafana")
        print("skipped  grafana: not run here (stack.endpoints.grafana is null)")
    auth = None
    if "grafana" in parts:
        try:
            auth = live.grafana_credential(Path(args.env))
        except live.Unreachable as e:
            print(f"grafana: {e}", file=sys.stderr)
    try:
        with _locked(root, create=True) as tree:     # held until the reload is done, or undone
            protect = _protect(args, root)
            changes = compare(tree, files, protect)
            before = previous(tree, files, changes) if changes else None
            _apply(tree, files, None, protect, changes)
            reloaded = _reload_live(parts, urls, auth, args)
            print(live.LOKI_RULES_NOTE)
            refused = [r.part for r in reloaded if not r.done and live.refused(r.part, r.said)]
            if refused and before is not None:
                return _undo(tree, before, protect, refused, reloaded, urls, auth, args)
    except OutputError as e:
        return _refused(e)
    failed = [r.what for r in reloaded if not r.done]
    if failed:
        print(f"vigil reload: {', '.join(failed)} did not reload (the files on disk are new)", file=sys.stderr)
    return 1 if failed else 0


def _reload_live(parts, urls, auth, args, why: str = "") -> list[live.Reloaded]:
    results = live.reload(parts, *urls, auth, Path(args.env))
    for r in results:
        print(f"{'reloaded' if r.done else 'FAILED  '} {r.what}{why}{'' if r.done else ': ' + r.said}")
    return results


def _undo(tree: Tree, before, protect, refused, reloaded, urls, auth, args) -> int:
    """The running part kept its old config: the files on disk go back to it, and the parts
    that took the new files reload the previous ones, so the stack runs what is on disk."""
    _apply(tree, before, None, protect)
    print(f"vigil reload: {' and '.join(refused)} refused the new config: the previous files are back",
          file=sys.stderr)
    took = {r.part for r in reloaded if r.done}
    again = [p for p in live.PARTS if p in took]
    if again:
        _reload_live(again, urls, auth, args, " with the previous files")
    return 1


def cmd_secrets(args) -> int:
    inventory = _inventory(args)
    if inventory is None:
        return EXIT_INVALID
    got, missing = envfile.values(inventory, Path(args.env))
    unfixable = [n for n in missing if not (n.chat and args.inbox_url)]
    auth, bad = {}, {}
    if inventory.stack.basic_auth:   # the web configs and password files of webauth.py
        auth, bad = webauth.files(envfile.environment(Path(args.env)), Path(args.output))
        unfixable += [n for n in envfile.compose_needs(inventory) if n.variable in bad and bad[n.variable] is None]
    for n in unfixable:
        print(f"{args.env}: {n.variable} is not set ({n.what}, for {', '.join(n.used_by)})", file=sys.stderr)
    for variable, what in bad.items():
        if what:
            print(f"{args.env}: {variable}: {what}", file=sys.stderr)
    if unfixable or bad:
        return EXIT_INVALID
    for n in missing:   # a chat without a webhook: the local inbox shows what the chat would
        got[n.variable] = n.secret(inbox.webhook_url(args.inbox_url, n.chat, n.variable))
        print(f"{n.variable} is not set: {', '.join(n.used_by)} deliver to the local inbox")
    root = Path(args.output)
    folders = {envfile.SECRETS: {**got, **auth.get("alertmanager", {})}}
    if auth:
        folders[webauth.folder("prometheus")] = auth["prometheus"]
    try:
        kept = envfile.write_secrets(root, folders, _waiting(root))
    except OutputError as e:
        return _refused(e)
    for path, why in kept:
        print(f"{root / path}: kept: {why} (remove it yourself if it is no longer needed)", file=sys.stderr)
    print(f"{root / envfile.SECRETS}: {len(got)} secret files" + (f" and {webauth.WEB_CONFIG}" if auth else ""))
    if auth:
        print(f"{root / webauth.folder('prometheus')}: {webauth.WEB_CONFIG} and the passwords Prometheus sends")
    return 0


def cmd_inbox(args) -> int:
    server = inbox.serve(args.host, args.port, allow_hosts=args.allow_host)
    print(f"inbox on http://{args.host}:{args.port}/ (POST /slack/<name>, /discord/<name>/slack or "
          f"/mattermost/<name> as that chat's webhook)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


def _urls(args, *parts: str) -> list[str | None] | None:
    """The parts' URLs (live.url: flag, environment, inventory), None for a part the inventory does
    not run; the inventory is read only when a flag or variable leaves one open. None after
    reporting why not."""
    try:
        return [live.url(p, getattr(args, f"{p}_url"), None) for p in parts]
    except live.Unreachable:      # one is open: the inventory has it
        inventory = _inventory(args, then=f"the stack's URLs come from it (or give --{parts[0]}-url and the like)")
    return None if inventory is None else [_run_url(p, getattr(args, f"{p}_url"), inventory) for p in parts]


def _run_url(part: str, flag: str | None, inventory) -> str | None:
    try:
        return live.url(part, flag, inventory)
    except live.NotRun:
        return None


def cmd_status(args) -> int:
    urls = _urls(args, "prometheus", "alertmanager")
    if urls is None:
        return EXIT_INVALID
    try:
        lines, code = live.status(*urls)
    except live.Unreachable as e:
        print(f"vigil status: {e}", file=sys.stderr)
        return live.EXIT_UNREACHABLE
    for line in lines:
        print(line)
    return code


def cmd_test_notify(args) -> int:
    inventory = _inventory(args)
    if inventory is None:
        return EXIT_INVALID
    known = [r.name for r in inventory.receivers]
    if args.receiver and args.receiver not in known:
        hint = did_you_mean(args.receiver, known) or f" (receivers: {', '.join(known)})"
        print(f"{args.inventory}: no receiver {args.receiver!r}{hint}", file=sys.stderr)
        return EXIT_INVALID
    alerts = live.test_alerts(inventory, args.receiver)
    try:
        live.send(alerts, live.url("alertmanager", args.alertmanager_url, inventory))
    except live.Unreachable as e:
        print(f"vigil test-notify: {e}", file=sys.stderr)
        return 1
    for a in alerts:
        print(f"sent {live.TEST_ALERT} for {a['labels'][live.TEST_LABEL]}")
    print(f"they resolve by themselves in {int(live.TEST_LASTS.total_seconds() // 60)} minutes "
          f"(a resolved message follows)")
    return 0


def _service(args):
    """(inventory, the service --service names), or None after saying what is wrong: the inventory's
    problems, or which service it may have meant."""
    inventory = _inventory(args)
    if inventory is None:
        return None
    by_name = {s.name: s for s in inventory.services}
    if args.service not in by_name:
        hint = did_you_mean(args.service, list(by_name)) or f" (services: {', '.join(by_name)})"
        print(f"{args.inventory}: no service {args.service!r}{hint}", file=sys.stderr)
        return None
    return inventory, by_name[args.service]


def cmd_annotate(args) -> int:
    found = _service(args)
    if found is None:
        return EXIT_INVALID
    inventory, service = found
    try:
        auth = live.grafana_credential(Path(args.env))
        grafana = live.url("grafana", args.grafana_url, inventory)
        ident = annotate.post(grafana, auth, service, args.text, args.tag)
    except live.Unreachable as e:
        print(f"vigil annotate: {e}", file=sys.stderr)
        return 1
    print(f"annotation {ident} on {args.service}: {args.text}")
    return 0


def _tracker_token(args) -> str:
    return os.environ.get(tracker.TOKEN) or envfile.read_env(Path(args.env)).get(tracker.TOKEN) or ""


def _tracker_client(args):
    token = _tracker_token(args)
    if not token:
        print(f"{args.env}: {tracker.TOKEN} is not set (make up creates it: bugsink-manage create_auth_token)",
              file=sys.stderr)
        return None
    return tracker.Client(args.url, token)


def _token_source(args) -> str:
    return f"${tracker.TOKEN}" if os.environ.get(tracker.TOKEN) else f"{args.env}: {tracker.TOKEN}"


def _stale_token(args) -> str:
    return (f"{_token_source(args)} is stale: the error tracker at {args.url} does not know it (it was made "
            f"before Bugsink's data was removed, e.g. by make clean); make up and make reload create a fresh one")


def cmd_errors_token(args) -> int:
    """One API call: 0 when Bugsink accepts the token, EXIT_TOKEN_STALE when it refuses it (HTTP 401)."""
    client = _tracker_client(args)
    if client is None:
        return EXIT_INVALID
    try:
        known = tracker.token_known(client)
    except tracker.TrackerError as e:
        print(f"vigil errors token: {e}", file=sys.stderr)
        return 1
    if not known:
        print(_stale_token(args), file=sys.stderr)
        return EXIT_TOKEN_STALE
    print(f"{_token_source(args)}: the error tracker at {args.url} accepts it")
    return 0


def cmd_errors_provision(args) -> int:
    inventory = _inventory(args)
    if inventory is None:
        return EXIT_INVALID
    if not tracker.enabled(inventory.stack):
        print(f"{args.inventory}: stack.error_tracker is off: nothing to provision")
        return 0
    client = _tracker_client(args)
    if client is None:
        return EXIT_INVALID
    try:
        done = tracker.provision(client, inventory)
    except tracker.TrackerError as e:
        print(f"vigil errors provision: {e}", file=sys.stderr)
        if e.status == 401:
            print(_stale_token(args), file=sys.stderr)
        return 1
    tracker.set_env(Path(args.env), {tracker.dsn_variable(s): dsn for s, dsn in done.dsns.items()})
    print(f"error tracker: {len(done.teams_created)} teams and {len(done.projects_created)} projects created "
          f"({', '.join(done.teams_created + done.projects_created) or 'all there already'}); "
          f"{len(done.dsns)} DSNs in {args.env}")
    if done.orphans:
        print(f"kept (no longer in the inventory, data kept): {', '.join(done.orphans)}")
    return 0


def cmd_errors_dsn(args) -> int:
    inventory = _inventory(args)
    if inventory is None:
        return EXIT_INVALID
    by_name = {s.name: s for s in inventory.services}
    if args.service not in by_name or not by_name[args.service].errors:
        known = [s.name for s in tracker.reporting(inventory)]
        hint = did_you_mean(args.service, known) or f" (reporting services: {', '.join(known) or 'none'})"
        print(f"{args.inventory}: {args.service!r} is not a service that reports errors{hint}", file=sys.stderr)
        return EXIT_INVALID
    dsn = envfile.read_env(Path(args.env)).get(tracker.dsn_variable(args.service))
    if not dsn:
        print(f"{args.env}: {tracker.dsn_variable(args.service)} is not set (run vigil errors provision, "
              f"or make up)", file=sys.stderr)
        return 1
    print(dsn)
    return 0


def cmd_errors_exporter(args) -> int:
    token = _tracker_token(args)
    if not token:   # still serve: vigil_errors_up 0 makes ErrorTrackerDown say what is wrong
        print(f"{tracker.TOKEN} is not set: every read of the tracker will fail", file=sys.stderr)
    exporter = tracker_exporter.Exporter(tracker.Client(args.url, token), args.public_url)
    server = tracker_exporter.serve(exporter, args.host, args.port, args.interval)
    print(f"errors exporter on http://{args.host}:{args.port}/metrics, reading {args.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


def _url_flags(parser, *parts: str) -> None:
    for part in parts:
        parser.add_argument(f"--{part}-url", help=f"{part} base URL (default: ${live.ENV[part]}, else the "
                                                   f"inventory's stack.{part}_url or endpoint)")


def cmd_deploy(args) -> int:
    found = _service(args)
    if found is None:
        return EXIT_INVALID
    inventory, service = found
    try:
        d = deploy.check(service, args.version, args.status, args.commit_time, time.time(),
                         commit=args.commit or "", url=args.url or "", by=args.by or "")
    except deploy.BadInput as e:
        print(f"vigil deploy: {e}; nothing sent", file=sys.stderr)
        return EXIT_INVALID
    env = {**envfile.read_env(Path(args.env)), **os.environ}
    try:
        auth = live.grafana_credential(Path(args.env))
    except live.Unreachable:
        auth = None
    grafana = _run_url("grafana", args.grafana_url, inventory)    # None: not run here, no annotation
    tracker_url = args.tracker_url or env.get(deploy.TRACKER_URL) or (
        inventory.stack.error_tracker.url if tracker.enabled(inventory.stack) else "")
    token = env.get(tracker.TOKEN)
    try:
        out = deploy.run(inventory, d, pushgateway=args.pushgateway_url, grafana=grafana, grafana_auth=auth,
                         tracker=tracker.Client(tracker_url, token) if tracker_url and token else None, env=env,
                         inbox_url=args.inbox_url, dry_run=args.dry_run)
    except deploy.StackDown as e:
        print(f"vigil deploy: {e}; nothing sent", file=sys.stderr)
        return EXIT_STACK_DOWN
    for line in out.lines:
        print(line)
    if out.failed:
        print(f"vigil deploy: {', '.join(out.failed)} failed; the other steps are done (rerun: it is idempotent)",
              file=sys.stderr)
        return 1
    return 0


def cmd_status_page(args) -> int:
    config_path = Path(args.config) if args.config else Path(args.output) / statuspage.DIR / statuspage.CONFIG
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as e:
        print(f"vigil status-page: cannot read {config_path}: {e} (run `vigil generate` first)", file=sys.stderr)
        return EXIT_INVALID
    if args.serve:
        port = args.port or config.get("port") or 8090
        server = statuspage.serve(config_path, args.prometheus_url, args.host, port)
        print(f"status page on http://{args.host}:{port}/", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            server.shutdown()
        return 0
    if not args.out:
        print("vigil status-page: give --out DIR (static files) or --serve", file=sys.stderr)
        return EXIT_INVALID
    status = statuspage.export(config, args.prometheus_url, Path(args.out))
    if status.error:
        print(f"vigil status-page: {status.error}; wrote a page that says the status is unknown", file=sys.stderr)
        return 1
    print(f"{args.out}: index.html, status.json ({len(status.services)} services, {len(status.incidents)} incidents)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="vigil", description="Render a Prometheus/Alertmanager/Grafana/Loki "
                                                                 "stack from one inventory.")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check the inventory: exit 0, or 2 with one line per problem")
    v.add_argument("-i", "--inventory", default="inventory.yml")
    v.add_argument("--strict", action="store_true", help="also require every secret the inventory names in --env")
    v.add_argument("--env", default=".env", help="the secrets file (default: .env)")
    v.add_argument("--hints", action="store_true",
                   help="also warn of what a real stack should set (a heartbeat receiver); --strict does too")
    v.set_defaults(run=cmd_validate)
    g = sub.add_parser("generate", help="render every config from the inventory")
    g.add_argument("-i", "--inventory", default="inventory.yml")
    g.add_argument("-o", "--output", default=".", help="render the tree under DIR (default: here)")
    g.add_argument("--check", action="store_true", help="write nothing; exit 1 if rendered files are stale")
    g.add_argument("--diff", action="store_true", help="write nothing; show what would change (exit 1 if any)")
    g.set_defaults(run=cmd_generate)
    s = sub.add_parser("secrets", help="write alertmanager/secrets/ from .env")
    s.add_argument("-i", "--inventory", default="inventory.yml")
    s.add_argument("--env", default=".env")
    s.add_argument("-o", "--output", default=".")
    s.add_argument("--inbox-url", help="where Slack, Discord and Mattermost receivers without a webhook deliver "
                                       "instead")
    s.add_argument("--inbox", action="store_const", dest="inbox_url", const=compose.INBOX_URL,
                   help=f"--inbox-url of the stack's own inbox ({compose.INBOX_URL})")
    s.set_defaults(run=cmd_secrets)
    ib = sub.add_parser("inbox", help="a local inbox that speaks Slack's, Discord's and Mattermost's webhook contract")
    ib.add_argument("--host", default="127.0.0.1")
    ib.add_argument("--port", type=int, default=8025)
    ib.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                    help="a dotted host name the inbox answers to (IP addresses and one-label names always)")
    ib.set_defaults(run=cmd_inbox)
    st = sub.add_parser("status", help="targets down, firing alerts and silences of the running stack",
                        description="Exit codes: 0 all targets up and no critical alert firing unsilenced; "
                                    "1 the stack does not answer (or not as its API does); 2 bad inventory; "
                                    "3 targets down; 4 a critical alert firing (neither silenced nor inhibited).")
    st.add_argument("-i", "--inventory", default="inventory.yml", help="where the URLs come from")
    _url_flags(st, "prometheus", "alertmanager")
    st.set_defaults(run=cmd_status)
    tn = sub.add_parser("test-notify", help="send a test alert through Alertmanager to each receiver")
    tn.add_argument("-i", "--inventory", default="inventory.yml")
    tn.add_argument("--receiver", help="only this receiver")
    _url_flags(tn, "alertmanager")
    tn.set_defaults(run=cmd_test_notify)
    an = sub.add_parser("annotate", help="mark a deploy (or anything) on a service's dashboard in Grafana")
    an.add_argument("-i", "--inventory", default="inventory.yml")
    an.add_argument("--service", required=True, help="the inventory service it concerns")
    an.add_argument("--text", required=True, help="what happened, e.g. 'deploy v1.4.2 (abc123)'")
    an.add_argument("--tag", action="append", default=[], help="one more tag (repeatable)")
    _url_flags(an, "grafana")
    an.add_argument("--env", default=".env", help="where GRAFANA_TOKEN or the admin password are (default: .env)")
    an.set_defaults(run=cmd_annotate)

    dp = sub.add_parser("deploy", help="a deploy: Grafana annotation, error-tracker release, message, DORA event")
    dp.add_argument("-i", "--inventory", default="inventory.yml")
    dp.add_argument("--service", required=True)
    dp.add_argument("--version", required=True, help="what was deployed, e.g. v1.4.2")
    dp.add_argument("--commit", help="the commit sha")
    dp.add_argument("--commit-time", help="when that commit was made (ISO 8601 or unix seconds): the lead time")
    dp.add_argument("--status", default="succeeded", help="succeeded (default), failed or rolled-back")
    dp.add_argument("--url", help="the CI run")
    dp.add_argument("--by", help="who deployed")
    dp.add_argument("--dry-run", action="store_true", help="say what would be sent; send nothing")
    _url_flags(dp, "grafana")
    dp.add_argument("--pushgateway-url", default=deploy.PUSHGATEWAY_URL)
    dp.add_argument("--tracker-url", help=f"the error tracker (default: {deploy.TRACKER_URL}; none: skipped)")
    dp.add_argument("--inbox-url", help="where Slack receivers without a webhook in .env post instead")
    dp.add_argument("--env", default=".env", help="the secrets file (default: .env)")
    dp.set_defaults(run=cmd_deploy)
    sp = sub.add_parser("status-page", help="the public status page: static files (--out) or served (--serve)")
    sp.add_argument("--config", help=f"its rendered config (default: {statuspage.DIR}/{statuspage.CONFIG})")
    sp.add_argument("-o", "--output", default=".", help="the rendered tree (default: here)")
    sp.add_argument("--out", help="write index.html and status.json here")
    sp.add_argument("--serve", action="store_true", help="serve it (refreshed every 30 s)")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, help="default: stack.status_page.port")
    sp.add_argument("--prometheus-url", default=os.environ.get(live.ENV["prometheus"], "http://127.0.0.1:9090"),
                    help=f"where it reads the probes and alerts (default: ${live.ENV['prometheus']}, else "
                         f"http://127.0.0.1:9090)")
    sp.set_defaults(run=cmd_status_page)

    rl = sub.add_parser("reload", help="regenerate, check, and reload the running stack in place")
    rl.add_argument("-i", "--inventory", default="inventory.yml")
    rl.add_argument("-o", "--output", default=".", help="the rendered tree the stack reads (default: here)")
    rl.add_argument("--only", help=f"comma-separated parts to reload (default: {','.join(live.PARTS)})")
    _url_flags(rl, *live.PARTS)
    rl.add_argument("--env", default=".env", help="where the stack's passwords (and GRAFANA_TOKEN) are "
                                                  "(default: .env)")
    rl.set_defaults(run=cmd_reload)

    er = sub.add_parser("errors", help="the error tracker (Bugsink): provision, DSNs, the exporter")
    esub = er.add_subparsers(dest="errors_command", required=True)
    local = f"http://127.0.0.1:{compose.port('bugsink')}"     # where `make up` publishes it
    url = os.environ.get("VIGIL_BUGSINK_URL", local)
    ep = esub.add_parser("provision", help="one team per team, one project per reporting service; DSNs into .env")
    ed = esub.add_parser("dsn", help="the DSN a service's Sentry SDK sends to")
    ed.add_argument("service")
    et = esub.add_parser("token", help=f"whether Bugsink accepts {tracker.TOKEN} (exit 0), or refuses it: stale "
                                       f"(exit {EXIT_TOKEN_STALE})")
    ex = esub.add_parser("exporter", help="serve Bugsink's issues as Prometheus metrics")
    ex.add_argument("--host", default="127.0.0.1")
    ex.add_argument("--port", type=int, default=compose.port("errors_exporter"))
    ex.add_argument("--interval", type=float, default=5.0, help="seconds between two readings of Bugsink (5)")
    ex.add_argument("--public-url", default=os.environ.get("VIGIL_BUGSINK_PUBLIC_URL",
                                                   ErrorTracker.model_fields["url"].default),
                    help="where people open the tracker: base of the issue links")
    for p, run in ((ep, cmd_errors_provision), (ed, cmd_errors_dsn), (et, cmd_errors_token),
                   (ex, cmd_errors_exporter)):
        p.add_argument("-i", "--inventory", default="inventory.yml")
        p.add_argument("--env", default=".env", help=f"where {tracker.TOKEN} is and the DSNs go (default: .env)")
        p.add_argument("--url", default=url, help=f"where Bugsink's API is reached (default: $VIGIL_BUGSINK_URL or "
                                                  f"{local})")
        p.set_defaults(run=run)

    c = sub.add_parser("check", help="run promtool and amtool over the rendered tree")
    c.add_argument("-o", "--output", default=".", help="the rendered tree (default: here)")
    c.set_defaults(run=lambda a: check.run(Path(a.output)))
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except envfile.EnvFileError as e:   # a .env Compose would refuse: said once, located
        print(e, file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
