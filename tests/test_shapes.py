"""Render once per shape (render/shapes.py): each member of a shape gets, from its stand-in's render,
byte for byte the files, scrape jobs and probes its own render gives."""

from __future__ import annotations

import copy
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from test_property import COMMON, EXAMPLES, dump, inventories, label_values, service_names, targets, urls
from vigil.errors import InventoryError
from vigil.plan import plan
from vigil.render import render, shapes, shards
from vigil.validate import load_inventory

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate import fleet_inventory, synthesize  # noqa: E402  (its realistic mix of kinds, presets and overrides)


def _inventory(data: dict, tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_inventory(str(path))


def _both_ways(inv, monkeypatch) -> tuple[list, list, list]:
    """Every service rendered on its own, and through its shape; and the shapes that shared."""
    monkeypatch.setattr(shards, "_inventory", inv)
    alone = [shards._service(s) for s in inv.services]
    all_shapes = shapes.shapes(inv.services)
    by_index = dict(shards._shard(all_shapes))
    assert sorted(by_index) == list(range(len(inv.services)))
    return alone, [by_index[i] for i in range(len(inv.services))], [s for s in all_shapes if s.shared]


@pytest.mark.parametrize("tracker", [False, True], ids=["mix", "mix-with-error-tracker"])
def test_every_member_of_a_shape_renders_as_it_would_alone(tracker, tmp_path, monkeypatch):
    data = synthesize(600)
    data["stack"]["error_tracker"] = {"enabled": tracker}
    inv = _inventory(data, tmp_path)
    alone, shared, shared_shapes = _both_ways(inv, monkeypatch)
    # the test means something only if many services did come from another's render
    assert sum(len(s.members) for s in shared_shapes) > len(inv.services) / 3, len(shared_shapes)
    for service, own, from_shape in zip(inv.services, alone, shared):
        assert from_shape == own, service.name


def _service(name: str, team: str = "payments", **fields) -> dict:
    return {"name": name, "team": team, "kind": "http", "targets": [f"{name}:8000"], **fields}


# Names, teams and strings a marker could stand for wrongly: YAML would quote them, they appear in
# Vigil's own text ("http" in http://), a team's folder uid hashes it, a label holds a marker's
# fragment, targets of IP addresses, URLs with queries and fragments; and one rule of two services
# (its runbook panel's id hashes the service's name).
RULE = {"alert": "QueueBacklog", "expr": "queue_depth > 100", "severity": "warning", "summary": "Queue is backing up",
        "test": {"series": {'queue_depth{instance="a:1"}': 150}}}
ADVERSARIAL = [
    _service("queue", rules=[RULE]), _service("queue-b", rules=[RULE]),
    _service("on"), _service("null"), _service("yes", team="n"),
    _service("http", health_url="http://http:8000/http"), _service("https", health_url="https://https:8443/"),
    _service("checkout", team="checkout"), _service("checkout-api", team="checkout"),
    _service("cart", team="a-team-whose-name-is-far-too-long-for-a-uid"),
    _service("cart-b", team="a-team-whose-name-is-far-too-long-for-a-uid"),
    _service("qzx", labels={"tier": "qzxteamxzq"}), _service("fragment", labels={"tier": "QZX"}),
    _service("ip", targets=["10.0.0.1:9100", "[::1]:9100"]), _service("ip-b", targets=["10.0.0.2:9100", "10.0.0.3:1"]),
    _service("wiki", runbook_url="https://wiki.example.com/x?page=a&b=c#section-2"),
    _service("wiki-b", runbook_url="https://wiki.example.com/run%20books#b"),
    _service("labelled", labels={"tier": "true"}), _service("labelled-b", labels={"tier": "1e3"}),
    _service("order", labels={"zone": "b", "area": "a"}), _service("order-b", labels={"zone": "a", "area": "b"}),
    {"name": "pg", "team": "data", "kind": "postgres"}, {"name": "pg-b", "team": "data", "kind": "postgres"},
    {"name": "site", "team": "web", "kind": "probe", "url": "https://site.example.com/?q=1"},
    {"name": "site-b", "team": "web", "kind": "probe", "url": "http://site-b.example.com/"},
    {"name": "batch", "team": "data", "kind": "job", "targets": ["pushgateway:9091"], "pushgateway": True},
    {"name": "batch-b", "team": "data", "kind": "job", "targets": ["pushgateway-b:9091"], "pushgateway": True},
]


def test_strings_a_marker_could_stand_for_wrongly_render_as_they_would_alone(tmp_path, monkeypatch):
    data = synthesize(1)
    data["teams"] += [{"name": t, "notify": {"critical": ["pager"]}}
                      for t in sorted({s["team"] for s in ADVERSARIAL} - {t["name"] for t in data["teams"]})]
    data["services"] = copy.deepcopy(ADVERSARIAL)
    inv = _inventory(data, tmp_path)
    alone, shared, shared_shapes = _both_ways(inv, monkeypatch)
    for service, own, from_shape in zip(inv.services, alone, shared):
        assert from_shape == own, service.name
    together = {s.name for shape in shared_shapes for _, s, _ in shape.members}
    # what may share did; what may not rendered alone
    assert {"checkout", "checkout-api", "pg", "pg-b", "batch", "batch-b", "order", "order-b"} <= together, together
    assert not together & {"on", "null", "yes", "cart", "cart-b", "ip", "queue", "queue-b"}, together


def test_a_render_that_changes_a_marker_falls_back_to_each_members_own(tmp_path, monkeypatch):
    """The control: a stand-in whose render holds a fragment of a marker (here a metrics path that
    reads like its name upper-cased) is not expanded; each member renders on its own, and rightly."""
    data = synthesize(1)
    data["services"] = [_service(name, metrics_path="/QZXNAMEXZQ") for name in ("api", "web")]
    inv = _inventory(data, tmp_path)
    [shape] = shapes.shapes(inv.services)
    assert shape.shared
    alone = []
    monkeypatch.setattr(shards, "_inventory", inv)
    out = shapes.expand(shape, shards._service(shape.stand_in), lambda s: alone.append(s.name) or shards._service(s))
    assert alone == ["api", "web"]
    assert [r for _, r in out] == [shards._service(s) for s in inv.services]


def test_vigil_renders_shapes_on_every_core_to_the_bytes_of_one_process(tmp_path):
    inv = _inventory(synthesize(2 * shards.SHARD + 37), tmp_path)
    assert shards.render_inventory(inv, workers=2) == render(plan(inv))


def test_a_fleet_of_one_shape_is_dealt_out_to_every_worker(tmp_path):
    data = synthesize(1)
    data["services"] = [{"name": f"node-{i}", "team": "platform", "kind": "host", "targets": [f"10.1.{i // 250}.{i % 250}:9100"]}
                        for i in range(2 * shards.SHARD + 37)]
    inv = _inventory(data, tmp_path)
    [fleet] = shapes.shapes(inv.services)
    runs = shards._shards([fleet], shards.SHARD)
    assert [sum(len(s.members) for s in run) for run in runs] == [shards.SHARD, shards.SHARD, 37]
    assert shards.render_inventory(inv, workers=2) == render(plan(inv))


def test_the_benchmarks_fleet_is_one_shape(tmp_path):
    """What `benchmarks/generate.py --inventory fleet` and the README say of it: one render stands for all."""
    inv = _inventory(fleet_inventory(50), tmp_path)
    [fleet] = shapes.shapes(inv.services)
    assert fleet.shared and len(fleet.members) == 50


@st.composite
def twinned(draw) -> dict:
    """A valid inventory of test_property's, each service with a twin: the same entry with its own
    name, team, targets, label values and URLs drawn anew (of the same schemes)."""
    inventory = draw(inventories())
    services = inventory.get("services", [])
    teams = [t["name"] for t in inventory["teams"]]
    taken = {s["name"] for s in services}
    twins = []
    for s in services:
        twin = {**copy.deepcopy(s), "name": draw(service_names.filter(lambda n: n not in taken)),
                "team": draw(st.sampled_from(teams))}
        taken.add(twin["name"])
        if "targets" in s:
            twin["targets"] = draw(st.lists(targets, min_size=len(s["targets"]), max_size=len(s["targets"]), unique=True))
        if "labels" in s:
            twin["labels"] = {k: draw(label_values) for k in s["labels"]}
        for key in ("url", "health_url", "runbook_url"):
            if key in s:
                twin[key] = draw(urls((s[key].partition("://")[0],)))
        twins.append(twin)
    inventory["services"] = services + twins
    return inventory


@settings(max_examples=EXAMPLES * 2 or 40, **COMMON)
@given(twinned())
def test_random_services_and_their_twins_render_through_their_shapes_as_alone(inventory):
    with tempfile.TemporaryDirectory(prefix="vigil-shapes-") as tmp:
        path = Path(tmp) / "inventory.yml"
        path.write_text(dump(inventory), encoding="utf-8")
        try:
            inv = load_inventory(str(path))
        except InventoryError:      # a twin's drawn target or URL clashes with another's
            assume(False)
    shards._inventory = inv
    try:
        shared = dict(shards._shard(shapes.shapes(inv.services)))
        for i, s in enumerate(inv.services):
            assert shared[i] == shards._service(s), f"{s.name} differs from its own render:\n{dump(inventory)}"
    finally:
        shards._inventory = None
