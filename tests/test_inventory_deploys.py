"""The inventory fields of deploys and the status page: teams[].deploys, services[].public,
stack.status_page (its announcements), each bad value located like every other problem."""

from __future__ import annotations

import pytest

from test_validation import BASE, add, case, edit, one
from vigil.load import load_file
from vigil.validate import validate

PAGER = BASE.replace("routing:", "  - name: pager\n    pagerduty: {routing_key: PD_KEY}\nrouting:")
# lines of PAGER: 7 - name: pager, 8 pagerduty, 9 routing, ..., 11 teams, 12 - name: platform, 13 notify


STACK_PAGE = "  name: demo\n  status_page:\n    announcements:\n"
CASES = [
    case("deploys names an unknown receiver", edit("    notify: {critical: [ops], warning: [ops]}\n",
                                                   "    notify: {critical: [ops], warning: [ops]}\n    deploys: [opz]\n"),
         12, "teams[0].deploys[0]", "unknown receiver 'opz' (did you mean 'ops'?)"),
    case("deploys names a receiver twice", edit("    notify: {critical: [ops], warning: [ops]}\n",
                                                "    notify: {critical: [ops], warning: [ops]}\n    deploys: [ops, ops]\n"),
         12, "teams[0].deploys[1]", "receiver 'ops' listed twice"),
    case("deploys to a pager", edit("    notify: {critical: [ops], warning: [ops]}\n",
                                    "    notify: {critical: [ops], warning: [ops]}\n    deploys: [pager]\n", PAGER),
         14, "teams[0].deploys[0]", "receiver 'pager' cannot take deploy messages (give it one of: slack, webhook, email)"),
    case("deploys beside a receiver whose name is not a string",        # was a traceback
         edit("    notify: {critical: [ops], warning: [ops]}\n", "    notify: {critical: [ops], warning: [ops]}\n"
              "    deploys: [ops]\n", BASE.replace("routing:", "  - name: {x: 1}\n    webhook: {url: 'http://hook:8080/'}\n"
                                                              "routing:")),
         7, "receivers[1].name", "expected a string, got a mapping"),
    case("public is not a boolean", add("    public: sometimes"), 17, "services[0].public", "got 'sometimes'"),
    case("an announcement without a start", edit("  name: demo\n", STACK_PAGE + "      - {title: Upgrade}\n"),
         6, "stack.status_page.announcements[0]", "missing required key 'start'"),
    case("an announcement at a time without an offset",
         edit("  name: demo\n", STACK_PAGE + "      - {title: Upgrade, start: '2026-12-01 22:00'}\n"),
         6, "stack.status_page.announcements[0].start", "invalid time '2026-12-01 22:00' (write ISO 8601 with an offset"),
    case("an announcement for an unknown service",
         edit("  name: demo\n", STACK_PAGE + "      - {title: Upgrade, start: '2026-12-01T22:00:00Z', services: [chekout]}\n"),
         6, "stack.status_page.announcements[0].services[0]", "unknown service 'chekout' (did you mean 'checkout'?)"),
    case("an unknown kind of announcement",
         edit("  name: demo\n", STACK_PAGE + "      - {title: Upgrade, start: '2026-12-01T22:00:00Z', kind: outage}\n"),
         6, "stack.status_page.announcements[0].kind", "'outage' is not one of notice, maintenance"),
    case("a status page port out of range", edit("  name: demo\n", "  name: demo\n  status_page: {port: 70000}\n"),
         4, "stack.status_page.port", "70000"),
]


@pytest.mark.parametrize("text, line, where, message", CASES)
def test_bad_deploy_and_status_page_fields(tmp_path, text, line, where, message):
    p = one(tmp_path, text)
    assert (p.line, p.where) == (line, where), str(p)
    assert message in p.message, str(p)


def test_public_defaults_to_probes_and_health_checks(tmp_path):
    text = add("    health_url: http://checkout:8000/health") + """\
  - {name: worker, team: platform, kind: job, targets: ["worker:9000"]}
  - {name: site, team: platform, kind: probe, url: "https://example.com/"}
  - {name: admin, team: platform, kind: job, targets: ["admin:9000"], public: true}
  - {name: hidden, team: platform, kind: probe, url: "https://example.org/", public: false}
"""
    (tmp_path / "i.yml").write_text(text)
    inventory = validate(load_file(tmp_path / "i.yml"))
    assert [s.name for s in inventory.services if s.on_status_page] == ["checkout", "site", "admin"]
