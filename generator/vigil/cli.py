"""The `vigil` command: thin, it only wires load -> validate -> plan -> render -> write."""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from . import annotate, check, envfile, inbox, live, webauth
from .errors import InventoryError, did_you_mean
from .plan import plan
from .render import compose, render
from .validate import load_inventory
from .write import MANIFEST, OutputError, Tree, compare, diff, inputs_digest, remember, unchanged, with_manifest, write

EXIT_STALE, EXIT_INVALID = 1, 2


def _inventory(args):
    try:
        return load_inventory(args.inventory)
    except InventoryError as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        n = len(e.problems)
        print(f"{args.inventory}: {n} problem{'s' * (n != 1)}; nothing written", file=sys.stderr)
        return None


def cmd_validate(args) -> int:
    inventory = _inventory(args)
    if inventory is None:
        return EXIT_INVALID
    if args.strict:
        _, missing = envfile.values(inventory, Path(args.env))
        env = {**envfile.read_env(Path(args.env)), **os.environ}
        missing += [n for n in envfile.compose_needs(inventory) if n.required and not env.get(n.variable)]
        for n in missing:
            print(f"{args.env}: {n.variable} is not set ({n.what}, for {', '.join(n.used_by)})", file=sys.stderr)
        if missing:
            return EXIT_INVALID
        if not inventory.routing.heartbeat_receiver:
            # A warning, not an error: a local trial needs none, a real stack does.
            print(f"{args.inventory}: warning: routing.heartbeat_receiver is not set: Watchdog goes nowhere, so a "
                  f"dead Prometheus or Alertmanager goes unnoticed (point a webhook receiver at an external "
                  f"dead-man's-switch check, e.g. healthchecks.io)", file=sys.stderr)
    print(f"{args.inventory}: valid ({len(inventory.services)} services, {len(inventory.teams)} teams, "
          f"{len(inventory.receivers)} receivers)")
    return 0


def _render(args) -> dict[str, bytes] | None:
    """The whole tree, in memory; None (problems printed) for an invalid inventory."""
    inventory = _inventory(args)
    if inventory is None:
        return None
    # The plan is many small objects without reference cycles: the collector
    # would walk them again and again for nothing (a sixth of the run time).
    gc.disable()
    try:
        return with_manifest(render(plan(inventory)))
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


def _apply(tree: Tree, files: dict[str, bytes], inputs: str | None, protect) -> None:
    """Write the rendered files into the (locked) tree; say what changed and what it left alone."""
    changes = compare(tree, files, protect)
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
    a change the checks refuse touches neither the files nor the running stack."""
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
        print(f"{' and '.join(check.TOOLS)} not on PATH: Prometheus and Alertmanager check the files themselves "
              "and keep their old config if they refuse it")
    try:
        with _locked(root, create=True) as tree:
            _apply(tree, files, None, _protect(args, root))
    except OutputError as e:
        return _refused(e)
    auth = None
    if "grafana" in parts:
        try:
            auth = live.grafana_credential(Path(args.env))
        except live.Unreachable as e:
            print(f"grafana: {e}", file=sys.stderr)
    failed = []
    for part, done, said in live.reload(parts, args.prometheus_url, args.alertmanager_url, args.grafana_url, auth):
        print(f"{'reloaded' if done else 'FAILED  '} {part}{'' if done else ': ' + said}")
        if not done:
            failed.append(part)
    print(live.LOKI_RULES_NOTE)
    if failed:
        print(f"vigil reload: {', '.join(failed)} did not reload (the files on disk are new)", file=sys.stderr)
    return 1 if failed else 0


def cmd_secrets(args) -> int:
    inventory = _inventory(args)
    if inventory is None:
        return EXIT_INVALID
    got, missing = envfile.values(inventory, Path(args.env))
    unfixable = [n for n in missing if not (n.slack and args.inbox_url)]
    auth, bad = {}, {}
    if inventory.stack.basic_auth:   # the web configs and password files of webauth.py
        env = {**envfile.read_env(Path(args.env)), **os.environ}
        auth, bad = webauth.files(env, Path(args.output))
        unfixable += [n for n in envfile.compose_needs(inventory) if n.variable in bad and bad[n.variable] is None]
    for n in unfixable:
        print(f"{args.env}: {n.variable} is not set ({n.what}, for {', '.join(n.used_by)})", file=sys.stderr)
    for variable, what in bad.items():
        if what:
            print(f"{args.env}: {variable}: {what}", file=sys.stderr)
    if unfixable or bad:
        return EXIT_INVALID
    for n in missing:   # Slack without a webhook: the local inbox shows what Slack would
        got[n.variable] = f"{args.inbox_url.rstrip('/')}/slack/{n.variable}"
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
    server = inbox.serve(args.host, args.port)
    print(f"inbox on http://{args.host}:{args.port}/ (POST /slack/<name> as a Slack webhook)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


def cmd_status(args) -> int:
    try:
        for line in live.status(args.prometheus_url, args.alertmanager_url):
            print(line)
    except live.Unreachable as e:
        print(f"vigil status: {e}", file=sys.stderr)
        return 1
    return 0


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
        live.send(alerts, args.alertmanager_url)
    except live.Unreachable as e:
        print(f"vigil test-notify: {e}", file=sys.stderr)
        return 1
    for a in alerts:
        print(f"sent {live.TEST_ALERT} for {a['labels'][live.TEST_LABEL]}")
    return 0


def cmd_annotate(args) -> int:
    inventory = _inventory(args)
    if inventory is None:
        return EXIT_INVALID
    by_name = {s.name: s for s in inventory.services}
    if args.service not in by_name:
        hint = did_you_mean(args.service, list(by_name)) or f" (services: {', '.join(by_name)})"
        print(f"{args.inventory}: no service {args.service!r}{hint}", file=sys.stderr)
        return EXIT_INVALID
    try:
        auth = live.grafana_credential(Path(args.env))
        ident = annotate.post(args.grafana_url, auth, by_name[args.service], args.text, args.tag)
    except live.Unreachable as e:
        print(f"vigil annotate: {e}", file=sys.stderr)
        return 1
    print(f"annotation {ident} on {args.service}: {args.text}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="vigil", description="Render a Prometheus/Alertmanager/Grafana/Loki "
                                                                 "stack from one inventory.")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check the inventory: exit 0, or 2 with one line per problem")
    v.add_argument("-i", "--inventory", default="inventory.yml")
    v.add_argument("--strict", action="store_true", help="also require every secret the inventory names in --env")
    v.add_argument("--env", default=".env", help="the secrets file (default: .env)")
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
    s.add_argument("--inbox-url", help="where Slack receivers without a webhook deliver instead")
    s.add_argument("--inbox", action="store_const", dest="inbox_url", const=compose.INBOX_URL,
                   help=f"--inbox-url of the stack's own inbox ({compose.INBOX_URL})")
    s.set_defaults(run=cmd_secrets)
    ib = sub.add_parser("inbox", help="a local inbox that speaks Slack's webhook contract")
    ib.add_argument("--host", default="127.0.0.1")
    ib.add_argument("--port", type=int, default=8025)
    ib.set_defaults(run=cmd_inbox)
    st = sub.add_parser("status", help="targets down, firing alerts and silences of the running stack")
    st.add_argument("--prometheus-url", default=live.PROMETHEUS_URL)
    st.add_argument("--alertmanager-url", default=live.ALERTMANAGER_URL)
    st.set_defaults(run=cmd_status)
    tn = sub.add_parser("test-notify", help="send a test alert through Alertmanager to each receiver")
    tn.add_argument("-i", "--inventory", default="inventory.yml")
    tn.add_argument("--receiver", help="only this receiver")
    tn.add_argument("--alertmanager-url", default=live.ALERTMANAGER_URL)
    tn.set_defaults(run=cmd_test_notify)
    an = sub.add_parser("annotate", help="mark a deploy (or anything) on a service's dashboard in Grafana")
    an.add_argument("-i", "--inventory", default="inventory.yml")
    an.add_argument("--service", required=True, help="the inventory service it concerns")
    an.add_argument("--text", required=True, help="what happened, e.g. 'deploy v1.4.2 (abc123)'")
    an.add_argument("--tag", action="append", default=[], help="one more tag (repeatable)")
    an.add_argument("--grafana-url", default=live.GRAFANA_URL)
    an.add_argument("--env", default=".env", help="where GRAFANA_TOKEN or the admin password are (default: .env)")
    an.set_defaults(run=cmd_annotate)

    rl = sub.add_parser("reload", help="regenerate, check, and reload the running stack in place")
    rl.add_argument("-i", "--inventory", default="inventory.yml")
    rl.add_argument("-o", "--output", default=".", help="the rendered tree the stack reads (default: here)")
    rl.add_argument("--only", help=f"comma-separated parts to reload (default: {','.join(live.PARTS)})")
    rl.add_argument("--prometheus-url", default=live.PROMETHEUS_URL)
    rl.add_argument("--alertmanager-url", default=live.ALERTMANAGER_URL)
    rl.add_argument("--grafana-url", default=live.GRAFANA_URL)
    rl.add_argument("--env", default=".env", help="where GRAFANA_TOKEN or the admin password are (default: .env)")
    rl.set_defaults(run=cmd_reload)

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
