"""`vigil generate` and `vigil secrets` against a hostile or broken output tree:
never through a symbolic link, never outside the tree, never a file Vigil did not
write — each refusal a located error, exit 2, with nothing changed. And outputs
that cannot be written (read-only, a file in the way, a full disk) are a clear
error, no traceback. Victims live in a fake home folder under tmp_path."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA, ROOT

INVENTORY = ROOT / "inventory.yml"     # one secret: SLACK_WEBHOOK_URL


def vigil(*args: str, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The CLI in a separate process, with a fake HOME and none of the inventory's secrets in its environment."""
    env = {k: v for k, v in os.environ.items() if not any(w in k for w in ("WEBHOOK", "PAGER", "PASSWORD"))}
    env["HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "vigil", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under root: bytes of files, link targets, folders — what 'nothing changed' compares."""
    out: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = p.read_bytes()
    return out


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fake home folder with what an attacker would aim at."""
    h = tmp_path / "home"
    (h / ".ssh").mkdir(parents=True)
    (h / ".ssh" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nprecious\n")
    (h / ".ssh" / "authorized_keys").write_text("ssh-ed25519 AAAA precious\n")
    (h / ".bashrc").write_text("# precious\n")
    return h


@pytest.fixture
def tree(tmp_path: Path, home: Path) -> Path:
    out = tmp_path / "out"
    r = vigil("generate", "-i", str(DATA / "full.yml"), "-o", str(out), home=home)
    assert r.returncode == 0, r.stderr
    return out


def generate(tree: Path, home: Path, inventory: Path = DATA / "full.yml") -> subprocess.CompletedProcess:
    return vigil("generate", "-i", str(inventory), "-o", str(tree), home=home)


def refused(r: subprocess.CompletedProcess, where: Path, what: str) -> None:
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert f"{where}: {what}" in r.stderr, r.stderr


# ---------------------------------------------------------------- generate: links

@pytest.mark.parametrize("edit", [False, True], ids=["same-inventory", "changed-file"])
def test_a_symlinked_rendered_folder_is_refused_not_written_through(tree, home, tmp_path, edit):
    # prometheus/rules -> a copy elsewhere: identical content must not make it "up to date" either
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(tree / "prometheus" / "rules", elsewhere)
    if edit:
        (elsewhere / "services" / "api.yml").write_text("edited\n")
    shutil.rmtree(tree / "prometheus" / "rules")
    (tree / "prometheus" / "rules").symlink_to(elsewhere)
    before, outside = snapshot(tree), snapshot(elsewhere)
    r = generate(tree, home)
    refused(r, tree / "prometheus" / "rules", "a symbolic link")
    assert "nothing changed" in r.stderr
    assert snapshot(tree) == before and snapshot(elsewhere) == outside


def test_a_symlinked_file_is_refused(tree, home):
    victim = home / ".bashrc"
    (tree / "prometheus" / "prometheus.yml").unlink()
    (tree / "prometheus" / "prometheus.yml").symlink_to(victim)
    before = snapshot(tree)
    refused(generate(tree, home), tree / "prometheus" / "prometheus.yml", "a symbolic link")
    assert victim.read_text() == "# precious\n" and snapshot(tree) == before


def test_a_symlinked_output_below_a_new_folder_is_refused(tree, home, tmp_path):
    # the whole grafana/ folder a link into the home folder: the dashboards would land there
    shutil.rmtree(tree / "grafana")
    (tree / "grafana").symlink_to(home)
    before = snapshot(home)
    refused(generate(tree, home), tree / "grafana", "a symbolic link")
    assert snapshot(home) == before


def test_a_planted_temporary_file_link_is_not_followed(tree, home):
    rules = tree / "prometheus" / "rules" / "services" / "api.yml"
    good = rules.read_bytes()
    rules.write_text("edited by hand\n")          # so generate rewrites it
    planted = rules.with_name(".api.yml.vigil-tmp")
    planted.symlink_to(home / ".bashrc")
    r = generate(tree, home)
    assert r.returncode == 0, r.stderr
    assert (home / ".bashrc").read_text() == "# precious\n"
    assert rules.read_bytes() == good and not rules.is_symlink()
    assert not os.path.lexists(planted)


# ---------------------------------------------------------------- generate: the manifest is evidence

def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_tampered_manifest_deletes_nothing_vigil_did_not_write(tmp_path, home):
    # A project folder rendered in place: .env and the inventory live in the tree.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(DATA / "full.yml", project / "inventory.yml")
    (project / ".env").write_text("SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T/B/precious\n")
    (project / "notes.txt").write_text("mine\n")
    r = vigil("generate", cwd=project, home=home)
    assert r.returncode == 0, r.stderr
    victims = {".env": project / ".env", "inventory.yml": project / "inventory.yml",
               "../home/.bashrc": home / ".bashrc", str(home / ".ssh" / "id_ed25519"): home / ".ssh" / "id_ed25519",
               "notes.txt": project / "notes.txt"}
    # Each listed with the hash of its real content, as a forger would; notes.txt with a wrong one.
    lines = [f"{_sha(p.read_bytes()) if name != 'notes.txt' else '0' * 64}  {name}" for name, p in victims.items()]
    with (project / ".vigil-generated").open("a") as f:
        f.write("\n".join(lines) + "\n")
    before = {name: p.read_bytes() for name, p in victims.items()}
    r = vigil("generate", cwd=project, home=home)
    assert r.returncode == 0, r.stderr
    assert {name: p.read_bytes() for name, p in victims.items()} == before
    for reason in ("vigil never removes it", "outside the output tree", "changed since vigil wrote it"):
        assert reason in r.stderr, r.stderr
    assert "kept, though .vigil-generated lists it" in r.stderr
    # and the manifest is Vigil's own again
    assert ".env\n" not in (project / ".vigil-generated").read_text()


def test_a_file_no_longer_generated_is_removed_only_while_unchanged(tmp_path, home):
    inv = tmp_path / "inv.yml"
    text = (DATA / "full.yml").read_text()
    inv.write_text(text)
    out = tmp_path / "out"
    assert generate(out, home, inv).returncode == 0
    edited = out / "prometheus/rules/services/cache.yml"
    edited.write_text("my own changes\n")
    untouched = out / "prometheus/tests/services/cache.test.yml"
    assert untouched.is_file()
    # drop the cache service: both files fall out of the render
    import yaml
    data = yaml.safe_load(text)
    data["services"] = [s for s in data["services"] if s["name"] != "cache"]
    inv.write_text(yaml.safe_dump(data, sort_keys=False))
    r = generate(out, home, inv)
    assert r.returncode == 0, r.stderr
    assert edited.read_text() == "my own changes\n"
    assert f"{edited}: kept, though .vigil-generated lists it: changed since vigil wrote it" in r.stderr
    assert not untouched.exists()


# ---------------------------------------------------------------- generate: things in the way, unwritable

def test_a_file_in_the_way_of_a_folder(tree, home):
    shutil.rmtree(tree / "prometheus" / "tests")
    (tree / "prometheus" / "tests").write_text("in the way\n")
    before = snapshot(tree)
    refused(generate(tree, home), tree / "prometheus" / "tests", "a file is in the way of a folder")
    assert snapshot(tree) == before


def test_a_folder_in_the_way_of_a_file(tree, home):
    (tree / "docker-compose.yml").unlink()
    (tree / "docker-compose.yml").mkdir()
    before = snapshot(tree)
    refused(generate(tree, home), tree / "docker-compose.yml", "a folder is in the way of a file")
    assert snapshot(tree) == before


def test_a_fifo_where_a_file_goes_does_not_hang(tree, home):
    (tree / "blackbox" / "blackbox.yml").unlink()
    os.mkfifo(tree / "blackbox" / "blackbox.yml")
    refused(generate(tree, home), tree / "blackbox" / "blackbox.yml", "not a regular file")


def test_the_output_is_a_file(tmp_path, home):
    out = tmp_path / "out"
    out.write_text("a file\n")
    refused(generate(out, home), out, "a file is in the way of a folder")


def in_a_mount(script: str, home: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run `script` (sh) as root of a new user and mount namespace, where it may mount a
    small or read-only tmpfs: a full disk and a read-only folder, for real, without privileges."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("unshare is not on PATH: apt-get install util-linux", pytrace=False)
    probe = subprocess.run([unshare, "-r", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"this test needs user namespaces (unshare -r -m): {probe.stderr.strip()} "
                    "(as root: sysctl kernel.unprivileged_userns_clone=1)", pytrace=False)
    env = {k: v for k, v in os.environ.items() if "WEBHOOK" not in k}
    env.update(HOME=str(home), VIGIL=f"{sys.executable} -m vigil", INV=str(DATA / "full.yml"), T=str(tmp_path))
    return subprocess.run([unshare, "-r", "-m", "sh", "-c", f"set -u\n{script}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_read_only_output_folder_is_a_clear_error(tmp_path, home):
    out = tmp_path / "ro"
    out.mkdir()
    r = in_a_mount('mount -t tmpfs -o ro tmpfs "$T/ro" && $VIGIL generate -i "$INV" -o "$T/ro"', home, tmp_path)
    refused(r, out / ".vigil-lock", "cannot write here (Read-only file system)")
    # and read-only over an existing tree: the same, whatever it would have changed
    r = in_a_mount('mount -t tmpfs tmpfs "$T/ro" && $VIGIL generate -i "$INV" -o "$T/ro" >/dev/null && '
                   'echo edited > "$T/ro/blackbox/blackbox.yml" && mount -o remount,ro "$T/ro" && '
                   '$VIGIL generate -i "$INV" -o "$T/ro"', home, tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "Read-only file system" in r.stderr and "nothing changed" in r.stderr, r.stderr


def test_a_full_disk_is_a_clear_error_and_the_next_run_completes(tmp_path, home):
    fresh = tmp_path / "fresh"
    assert generate(fresh, home).returncode == 0
    (tmp_path / "full").mkdir()
    # 64 KiB holds the journal and a few files, not the whole tree (about 600 KiB)
    r = in_a_mount('mount -t tmpfs -o size=64k tmpfs "$T/full" && '
                   '{ $VIGIL generate -i "$INV" -o "$T/full"; echo "exit $?"; } && '
                   'mount -o remount,size=16m "$T/full" && $VIGIL generate -i "$INV" -o "$T/full" && '
                   'cp -a "$T/full" "$T/after"', home, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "exit 2" in r.stdout and "No space left on device" in r.stderr, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "stopped part-way" in r.stderr, r.stderr
    assert "completing a run that was interrupted" in r.stderr
    assert snapshot(tmp_path / "after") == snapshot(fresh)


# ---------------------------------------------------------------- secrets

# Prometheus's and Alertmanager's basic-auth passwords (webauth.py), which `vigil secrets` also needs.
PASSWORDS = "VIGIL_PROMETHEUS_PASSWORD=prometheusPassword1234\nVIGIL_ALERTMANAGER_PASSWORD=alertmanagerPassword1234\n"


def secrets(tree: Path, home: Path, tmp_path: Path, webhook: str = "https://hooks.slack.com/services/T/B/new"):
    env = tmp_path / ".env"
    env.write_text(f"SLACK_WEBHOOK_URL={webhook}\n{PASSWORDS}")
    return vigil("secrets", "-i", str(INVENTORY), "--env", str(env), "-o", str(tree), home=home)


@pytest.mark.parametrize("linked", ["alertmanager", "prometheus"])
def test_secrets_refuse_a_symlinked_secrets_folder(tmp_path, home, linked):
    # the reported attack: a committed alertmanager/secrets -> ../../.ssh (the web configs go to prometheus/ too)
    tree = tmp_path / "out"
    for part in ("alertmanager", "prometheus"):
        (tree / part).mkdir(parents=True)
    (tree / linked / "secrets").symlink_to(home / ".ssh")
    before = snapshot(home)
    r = secrets(tree, home, tmp_path)
    refused(r, tree / linked / "secrets", "a symbolic link")
    assert snapshot(home) == before
    # every folder is checked before anything is written: the other one holds no secret either
    assert not any(p.is_file() for p in (tree / ("prometheus" if linked == "alertmanager" else "alertmanager"))
                   .rglob("*"))


def test_secrets_refuse_a_symlinked_secret_file(tmp_path, home):
    tree = tmp_path / "out"
    folder = tree / "alertmanager" / "secrets"
    folder.mkdir(parents=True)
    (folder / "SLACK_WEBHOOK_URL").symlink_to(home / ".bashrc")
    r = secrets(tree, home, tmp_path)
    refused(r, folder / "SLACK_WEBHOOK_URL", "a symbolic link")
    assert (home / ".bashrc").read_text() == "# precious\n"
    assert [p.name for p in folder.iterdir()] == ["SLACK_WEBHOOK_URL"]


def test_secrets_remove_only_what_they_wrote(tmp_path, home):
    tree = tmp_path / "out"
    folder = tree / "alertmanager" / "secrets"
    folder.mkdir(parents=True)
    (folder / "MY_OWN_TOKEN").write_text("not vigil's")
    (folder / "linked").symlink_to(home / ".bashrc")
    r = secrets(tree, home, tmp_path)
    assert r.returncode == 0, r.stderr
    assert (folder / "SLACK_WEBHOOK_URL").read_text() == "https://hooks.slack.com/services/T/B/new"
    assert (folder / "SLACK_WEBHOOK_URL").stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700
    assert f"{folder / 'MY_OWN_TOKEN'}: kept: not written by vigil secrets" in r.stderr

    # Written by vigil secrets, then no longer needed: removed; changed by hand: kept.
    (folder / "SLACK_WEBHOOK_URL").write_text("changed by hand")
    env = tmp_path / ".env"
    r = vigil("secrets", "-i", str(DATA / "full.yml"), "--env", str(env), "-o", str(tree), "--inbox", home=home)
    assert r.returncode == 2       # full.yml needs more secrets than the inbox can stand in for
    env.write_text(f"PAGERDUTY_PAYMENTS_KEY=pd\nSMTP_PASSWORD=pw\n{PASSWORDS}")
    r = vigil("secrets", "-i", str(DATA / "full.yml"), "--env", str(env), "-o", str(tree), "--inbox", home=home)
    assert r.returncode == 0, r.stderr
    # SLACK_WEBHOOK_URL is needed again (the inbox stands in): rewritten, not deleted
    assert (folder / "SLACK_WEBHOOK_URL").read_text().endswith("/slack/SLACK_WEBHOOK_URL")
    assert (folder / "MY_OWN_TOKEN").read_text() == "not vigil's"
    assert os.readlink(folder / "linked") == str(home / ".bashrc")

    # now back to the small inventory: the full one's files were vigil's, unchanged -> removed
    (folder / "SMTP_PASSWORD").write_text("edited")
    r = secrets(tree, home, tmp_path)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert names == ["MY_OWN_TOKEN", "SLACK_WEBHOOK_URL", "SMTP_PASSWORD", "authorization", "linked", "web.yml"]
    assert f"{folder / 'SMTP_PASSWORD'}: kept: changed since vigil secrets wrote it" in r.stderr
    assert (home / ".bashrc").read_text() == "# precious\n"
