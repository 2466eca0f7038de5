"""The `vigil` command: thin, it only wires load -> validate -> plan -> render -> write."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import InventoryError
from .plan import plan
from .render import render
from .validate import load_inventory
from .write import compare, diff, with_manifest, write

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
    print(f"{args.inventory}: valid ({len(inventory.services)} services, {len(inventory.teams)} teams, "
          f"{len(inventory.receivers)} receivers)")
    return 0


def cmd_generate(args) -> int:
    inventory = _inventory(args)
    if inventory is None:
        return EXIT_INVALID
    root = Path(args.output)
    files = with_manifest(render(plan(inventory)))
    changes = compare(root, files)
    if args.diff:
        sys.stdout.write(diff(root, files, changes))
    if args.check or args.diff:
        if changes:
            print(f"{root}: rendered files are stale ({changes.summary()}); run `make generate`",
                  file=sys.stderr)
            return EXIT_STALE
        print(f"{root}: rendered files are up to date ({len(files)} files)")
        return 0
    write(root, files, changes)
    print(f"{root}: {changes.summary()}, {len(files) - len(changes.added) - len(changes.changed)} unchanged")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="vigil", description="Render a Prometheus/Alertmanager/Grafana/Loki "
                                                                 "stack from one inventory.")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check the inventory: exit 0, or 2 with one line per problem")
    v.add_argument("-i", "--inventory", default="inventory.yml")
    v.set_defaults(run=cmd_validate)
    g = sub.add_parser("generate", help="render every config from the inventory")
    g.add_argument("-i", "--inventory", default="inventory.yml")
    g.add_argument("-o", "--output", default=".", help="render the tree under DIR (default: here)")
    g.add_argument("--check", action="store_true", help="write nothing; exit 1 if rendered files are stale")
    g.add_argument("--diff", action="store_true", help="write nothing; show what would change (exit 1 if any)")
    g.set_defaults(run=cmd_generate)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
