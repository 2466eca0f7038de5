"""Inventory -> the rendering model: scrape jobs, probes, rule files and their tests.

All defaults and knowledge sit in the kind modules and stack.py; this module
only puts their plans together, in inventory order.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import dora, stack as stack_part, tracker_rules
from .inventory import Inventory
from .kinds import KINDS
from .kinds.base import Context, Probe, ScrapeJob
from .rules import RuleFile


@dataclass
class Plan:
    inventory: Inventory
    jobs: list[ScrapeJob]           # stack parts first, then services
    probes: list[Probe]
    rule_files: list[RuleFile]

    @property
    def alert_labels(self) -> list[str]:
        """Every label name an alert of the stack carries, as its tests expect it (and the user's
        rules' own labels): what tells one alert instance from another, for the inhibitions."""
        names = {k for rf in self.rule_files for t in rf.tests for c in t.checks for e in c.alerts for k in e.labels}
        names |= {k for s in self.inventory.services for r in s.rules for k in r.labels}
        return sorted(names)


def plan(inventory: Inventory) -> Plan:
    ctx = Context.of(inventory.stack)
    stack_jobs, stack_rules, host = stack_part.plan(inventory.stack)
    jobs, probes = list(stack_jobs), []
    files = [RuleFile("rules/stack.yml", stack_rules.groups, stack_rules.tests), dora.rule_file(inventory.stack.dora.failure_window)]
    services = [(stack_part.STACK_HOST, host)] if host is not None else []
    services += [(s.name, KINDS[s.kind].plan(s, ctx)) for s in inventory.services]
    if inventory.stack.error_tracker.enabled:
        _errors(inventory, ctx, jobs, files[0], dict(services))
    for name, p in services:
        jobs += p.jobs
        probes += p.probes
        files.append(RuleFile(f"rules/services/{name}.yml", p.groups, p.tests))
    return Plan(inventory, jobs, probes, files)


def _errors(inventory: Inventory, ctx: Context, jobs: list, stack_file: RuleFile, plans: dict) -> None:
    """The error tracker's exporter is scraped; each reporting service gets its error alerts, the stack
    ErrorTrackerDown."""
    jobs.append(tracker_rules.scrape_job(inventory.stack))
    group, tests = tracker_rules.stack_plan(ctx)
    stack_file.groups.append(group)
    stack_file.tests.extend(tests)
    for s in inventory.services:
        if s.errors:
            group, tests = tracker_rules.plan(s, ctx, KINDS[s.kind].dashboard(s))
            plans[s.name].groups.append(group)
            plans[s.name].tests.extend(tests)
