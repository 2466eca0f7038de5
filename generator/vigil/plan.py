"""Inventory -> the rendering model: scrape jobs, probes, rule files and their tests.

All defaults and knowledge sit in the kind modules and stack.py; this module
only puts their plans together, in inventory order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from . import dora, stack as stack_part, tracker_rules
from .inventory import Inventory, Service
from .kinds import KINDS
from .kinds.base import Context, Probe, ScrapeJob, ServicePlan
from .rules import RuleFile


@dataclass
class Plan:
    inventory: Inventory
    jobs: list[ScrapeJob]           # stack parts first, then services
    probes: list[Probe]
    rule_files: list[RuleFile]      # the stack's, then each service's (none of those rendered apart)
    # The label names of the alerts of services planned and rendered apart (render/shards.py), whose
    # files are rendered already (this plan keeps their jobs and probes); None when there are none.
    apart: frozenset[str] | None = None

    @property
    def alert_labels(self) -> list[str]:
        """Every label name an alert of the stack carries, as its tests expect it (and the user's
        rules' own labels): what tells one alert instance from another, for the inhibitions."""
        names = set(self.apart or ()).union(*(alert_label_names(rf) for rf in self.rule_files))
        names |= {k for s in self.inventory.services for r in s.rules for k in r.labels}
        return sorted(names)


def alert_label_names(rf: RuleFile) -> set[str]:
    """The label names of the alerts the file's tests expect."""
    return {k for t in rf.tests for c in t.checks for e in c.alerts for k in e.labels}


def plan(inventory: Inventory) -> Plan:
    out = plan_stack(inventory)
    for rf, p in plan_services(inventory, inventory.services):
        out.jobs += p.jobs
        out.probes += p.probes
        out.rule_files.append(rf)
    return out


def plan_stack(inventory: Inventory) -> Plan:
    """The stack's own part: its jobs and rules, the stack host's, the error tracker's."""
    ctx = Context.of(inventory.stack)
    stack_jobs, stack_rules, host = stack_part.plan(inventory.stack)
    stack_file = RuleFile("rules/stack.yml", stack_rules.groups, stack_rules.tests)
    out = Plan(inventory, list(stack_jobs), [], [stack_file, dora.rule_file(inventory.stack.dora.failure_window)])
    if inventory.stack.error_tracker.enabled:
        out.jobs.append(tracker_rules.scrape_job(inventory.stack))
        group, tests = tracker_rules.stack_plan(ctx)
        stack_file.groups.append(group)
        stack_file.tests.extend(tests)
    if host is not None:
        out.jobs += host.jobs
        out.probes += host.probes
        out.rule_files.append(_rule_file(stack_part.STACK_HOST, host))
    return out


def plan_services(inventory: Inventory, services: Sequence[Service]) -> list[tuple[RuleFile, ServicePlan]]:
    """Each service's plan and rule file, in the order given: a service needs the stack and itself only
    (each reporting service gets its error alerts)."""
    ctx = Context.of(inventory.stack)
    out = []
    for s in services:
        p = KINDS[s.kind].plan(s, ctx)
        if s.errors and inventory.stack.error_tracker.enabled:
            group, tests = tracker_rules.plan(s, ctx, KINDS[s.kind].dashboard(s))
            p.groups.append(group)
            p.tests.extend(tests)
        out.append((_rule_file(s.name, p), p))
    return out


def _rule_file(name: str, p: ServicePlan) -> RuleFile:
    return RuleFile(f"rules/services/{name}.yml", p.groups, p.tests)
