""".env read exactly as Docker Compose reads it (vigil.dotenv), with the real Compose
v2 binary as the oracle.

For every case: the .env goes into an empty project; `docker-compose config
--environment` says which variables Compose sees (or that it refuses the file), and
`docker-compose config` over a compose file interpolating each of them says their
exact values (multi-line ones too). Vigil's parser must give the same map, or refuse
the same files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import run_vigil
from test_compose import docker_compose
from vigil import dotenv, envfile

UNSET = "__vigil_unset__"
COMPOSE_OWN = {"PATH", "HOME", "PWD", "COMPOSE_PROJECT_NAME"}   # what Compose adds or we give it
NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")


def case(id, text, env=None):
    return pytest.param(text.encode() if isinstance(text, str) else text, env or {}, id=id)


CASES = [
    case("plain", "A=1\nB=two words\n"),
    case("single quotes", "A='x  y'\n"),
    case("double quotes", 'A="x  y"\n'),
    case("double quotes, inline comment", 'A="v" # a comment\n'),
    case("single quotes, inline comment", "A='v' # a comment\n"),
    case("unquoted trailing comment", "A=v # a comment\nB=v  #two spaces\n"),
    case("hash without a space", "A=v#not-a-comment\nB=https://example.com/#frag\n"),
    case("tab before the hash", "A=v\t# c\n"),
    case("export prefix", "export A=1\nexport  B = 2\n"),
    case("spaces around =", "A = 1\n  B=2  \n"),
    case("UTF-8 byte-order mark", "\ufeffSLACK_WEBHOOK_URL=https://hooks.example.com/x\nB=2\n"),
    case("CRLF", 'A=1\r\nB="2"\r\nC=\'3\'\r\n'),
    case("escapes in double quotes", r'A="a\nb\tc\\d\"e\qf"' + "\n"),
    case("escapes in single quotes", r"A='a\nb\'c'" + "\n"),
    case("${VAR}", "A=1\nB=${A}x\n"),
    case("$VAR", "A=1\nB=$A.x\n"),
    case("${VAR:-default} unset", "B=${NOPE:-def}\n"),
    case("- and :- on an empty value", "A=\nB=${A-def}\nC=${A:-def}\n"),
    case(":+ and +", "A=1\nE=\nB=${A:+alt}\nC=${E+alt}\nD=${E:+alt}\n"),
    case("$$ is a dollar", "A=pa$$word\n"),
    case("$name in a password", "A=pa$ss\nB=p$1x\n"),
    case("no expansion in single quotes", "A=1\nB='${A} $A'\n"),
    case("expansion in double quotes", 'A=1\nB="${A} $A"\n'),
    case("backslash-dollar in double quotes", 'A=1\nB="\\$A"\n'),
    case("multi-line double quotes", 'A="line 1\nline 2"\nB=2\n'),
    case("multi-line single quotes", "A='line 1\n  line 2'\nB=2\n"),
    case("PEM key in double quotes", 'KEY="-----BEGIN KEY-----\nMIIB\\nAB==\n-----END KEY-----"\n'),
    case("YAML style", "A: 1\nB:2\n"),
    case("key alone, from the environment", "A\nB=1\n", {"A": "from-env"}),
    case("key alone, unset", "A\nB=1\n"),
    case("the environment wins in expansion", "A=file\nB=${A}\n", {"A": "env"}),
    case("empty values", "A=\nB=''\nC=\"\"\n"),
    case("= in a value", "A=b=c\n"),
    case("nested default", "B=${NOPE:-${ALSO:-x}}\n"),
    case("comments, blank and indented lines", "# head\n\n  A=1\n\t# indented comment\nB=2 # c\n\n"),
    case("text after the closing quote", 'A="v"junk\n'),
    case("two on a line", 'A="a" B="b"\n'),
    case("a key twice", "A=1\nA=2\n"),
    case("unicode", "A=héllo ✓\nB=\"ünï\"\n"),
    case("dotted and dashed keys", "a.b=1\nc-d=2\n"),
    case("lower-case key", "lower=1\n"),
    case("export glued to the key", "exportA=1\nexported=2\n"),
    case("export alone on a line", "export\nA=1\n"),
    case("no newline at the end", "A=1\nB='x'"),
    case("a last line without = nor newline", "A=1\nB-x"),
    case("a later line refers to an earlier", "USER=me\nURL=https://${USER}@example.com\n"),
    case("backslash unquoted", "A=a\\nb\n"),
    # what Compose refuses
    case("unterminated quote", 'A="open\nB=2\n'),
    case("space in the key", "A B=1\n"),
    case("bad character in the key", "A!=1\n"),
    case("required variable", "A=${B:?set B}\n"),
    case("unclosed brace", "A=${B\n"),
    case("a lone dollar", "A=x$\n"),
    case("invalid after the dollar", "A=x$-y\n"),
    case("empty braces", "A=${}\n"),
    case("braces around a digit", "A=${1}\n"),
    case(":= is not an operator", "A=${B:=x}\n"),
]


def _compose(project: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([docker_compose(), "-f", str(project / "compose.yml"), *args], cwd=project,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(project), **env},
                          capture_output=True, text=True, timeout=120)


def compose_reads(project: Path, data: bytes, env: dict) -> dict[str, str] | None:
    """The variables Compose takes from .env (None: it refuses the file)."""
    (project / ".env").write_bytes(data)
    (project / "compose.yml").write_text("services:\n  a:\n    image: busybox\n")
    seen = _compose(project, "config", "--environment", env=env)
    if seen.returncode != 0:
        assert ".env" in seen.stderr, seen.stderr      # refused for the .env, not for something else
        return None
    names = {line.split("=", 1)[0] for line in seen.stdout.splitlines() if "=" in line} - COMPOSE_OWN
    plain = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in seen.stdout.splitlines() if "=" in line}
    names_ok = sorted(n for n in names if NAME.fullmatch(n))
    out = {n: plain[n] for n in names if not NAME.fullmatch(n)}   # dotted keys: single-line values here
    if names_ok:
        environment = "".join(f"      {n}: \"${{{n}-{UNSET}}}\"\n" for n in names_ok)
        (project / "compose.yml").write_text(f"services:\n  a:\n    image: busybox\n    environment:\n{environment}")
        model = _compose(project, "config", "--format", "json", env=env)
        assert model.returncode == 0, model.stderr
        values = json.loads(model.stdout)["services"]["a"]["environment"]
        # Compose prints a literal $ as $$ (its output can be read again)
        out.update({n: v.replace("$$", "$") for n, v in values.items() if v != UNSET})
    return {k: v for k, v in out.items() if k not in env}


def vigil_reads(data: bytes, env: dict) -> dict[str, str] | None:
    try:
        return dotenv.parse(dotenv.decode(data), env.get)
    except dotenv.DotenvError:
        return None


@pytest.fixture(scope="module")
def oracle(tmp_path_factory) -> dict:
    out = {}
    for p in CASES:
        data, env = p.values
        project = tmp_path_factory.mktemp("dotenv")
        out[p.id] = compose_reads(project, data, env)
    return out


@pytest.mark.parametrize("data, env", CASES)
def test_vigil_reads_dotenv_as_compose_does(oracle, request, data, env):
    expected = oracle[request.node.callspec.id]
    got = vigil_reads(data, env)
    # as Compose: the environment wins over .env, so compare what each would hand on
    if got is not None:
        got = {k: v for k, v in got.items() if k not in env}
    assert got == expected, f"Compose: {expected!r}\nVigil:   {got!r}"


def test_every_case_equal_and_counted(oracle, capsys):
    equal = 0
    for p in CASES:
        data, env = p.values
        got = vigil_reads(data, env)
        got = None if got is None else {k: v for k, v in got.items() if k not in env}
        equal += got == oracle[p.id]
    refused = sum(v is None for v in oracle.values())
    with capsys.disabled():
        print(f"\n.env matrix: {equal}/{len(CASES)} cases equal to docker-compose config "
              f"({refused} refused by both)")
    assert len(CASES) >= 30 and equal == len(CASES)


# ---------------------------------------------------------------- what the issue found, said plainly


def test_the_values_the_issue_found_wrong():
    env = dotenv.parse('\ufeffWEBHOOK="https://hooks.example.com/x" # prod\nP=pa$$w\nQ="a\\nb"\n'.removeprefix("\ufeff"))
    assert env == {"WEBHOOK": "https://hooks.example.com/x", "P": "pa$w", "Q": "a\nb"}
    assert dotenv.decode("\ufeffA=1\n".encode()) == "A=1\n"


def test_a_refused_line_is_located(tmp_path):
    path = tmp_path / ".env"
    path.write_text("A=1\n# ok\nB C=2\n")
    with pytest.raises(envfile.EnvFileError, match=rf"^{re.escape(str(path))}:3: key 'B C' cannot contain a space"):
        envfile.read_env(path, {})
    path.write_text('A=1\nB="open\nC=2\n')
    with pytest.raises(envfile.EnvFileError, match=r":2: unterminated quoted value"):
        envfile.read_env(path, {})


def test_a_latin1_env_is_a_clear_error_not_a_traceback(tmp_path):
    (tmp_path / ".env").write_bytes(b"A=1\nSLACK_WEBHOOK_URL=caf\xe9\n")
    with pytest.raises(envfile.EnvFileError, match=r"\.env:2: not UTF-8 \(byte 0xe9\)"):
        envfile.read_env(tmp_path / ".env", {})
    inventory = Path(__file__).resolve().parent.parent / "inventory.yml"
    result = run_vigil("secrets", "-i", str(inventory), "--env", str(tmp_path / ".env"), "-o", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"{tmp_path / '.env'}:2: not UTF-8" in result.stderr
    assert not (tmp_path / envfile.SECRETS).exists()      # nothing written


def test_expansion_sees_the_environment_before_the_file():
    assert dotenv.parse("A=file\nB=${A}\n", {"A": "env"}.get) == {"A": "file", "B": "env"}
    assert dotenv.parse("A=file\nB=${A}\n") == {"A": "file", "B": "file"}


# ---------------------------------------------------------------- random files, the same oracle

PIECES = ["A", "B", "x", "1", "é", " ", "  ", "\t", "=", ":", "#", " #", "'", '"', "\\", "\\n", "\\t", "\\\\", "\\'",
          '\\"', "\\$", "$", "$$", "$A", "${A}", "${B:-x}", "${C-y}", "${A:+z}", "${A:-${B}}", "${A:?e}", "${", "{", "}",
          "!", "-", "[", "]", "\n", "\r\n", "\ufeff", "export "]
KEYS = ["A", "B", "C", "D_1", "export A", "A B", "lower"]   # no dotted keys: their values are read line by line


def random_env(rng) -> tuple[bytes, dict]:
    lines = [rng.choice(KEYS) + rng.choice(["=", "=", " = ", ":"])
             + "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 4))]
    return ("\n".join(lines) + rng.choice(["", "\n"])).encode(), rng.choice([{}, {"A": "from-env"}])


def test_random_env_files_read_as_compose_reads_them(tmp_path_factory, capsys):
    import random
    rng, differ, n = random.Random(12), [], 30
    for _ in range(n):
        data, env = random_env(rng)
        expected = compose_reads(tmp_path_factory.mktemp("random"), data, env)
        got = vigil_reads(data, env)
        got = None if got is None else {k: v for k, v in got.items() if k not in env}
        if got != expected:
            differ.append(f"{data!r} {env}: Compose {expected!r}, Vigil {got!r}")
    with capsys.disabled():
        print(f"\n.env random files: {n - len(differ)}/{n} equal to docker-compose config")
    assert not differ, "\n".join(differ)
