"""Mistakes a new user makes with controllers: each is one line, exit 2, no traceback, nothing written."""
from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Literal, Optional, Sequence

import pytest

import mecsim
from mecsim.cli import main
from mecsim.registry import REGISTRY, _conforms, description, resolve
from tests.test_cli import TINY

ROOT = Path(__file__).resolve().parents[1]

# a controller module written in the test's folder: `act` / `observe` / the constructor as given
CONTROLLER = '''
class Ctrl:
    """A test controller."""
{systems}
    def __init__(self, threshold: float = 0.5, mode: str = "a") -> None:
        {init}

    def act(self, point):
        {act}
        return 0

    def observe(self, outcome):
        {observe}
'''


@pytest.fixture
def user(tmp_path, monkeypatch):
    """Write module `name` (a controller, or raw `source`) beside tiny.yaml; give its `module:Ctrl`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "tiny.yaml").write_text(TINY)

    def write(name: str, *, init: str = "pass", act: str = "pass", observe: str = "pass",
              systems: str = "", source: str | None = None) -> str:
        text = source if source is not None else CONTROLLER.format(
            init=init, act=act, observe=observe, systems=f"    systems = {systems}\n" if systems else "")
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
        monkeypatch.delitem(sys.modules, name, raising=False)
        return f"{name}:Ctrl"
    return write


def _one_line(capsys, argv: Sequence[str], out: Path | None = None) -> str:
    """Run `argv`; assert exit 2, one stderr line without a traceback, and `out` not written."""
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    if out is not None:
        assert not out.exists()
    return err


# -- controllers know their system -----------------------------------------------------------------
@pytest.mark.parametrize("scenario, controller, serves, system", [
    ("scenarios/pearl_dt/small.yaml", "heft", "dag_offloading", "service_management"),
    ("scenarios/quickstart.yaml", "random_tuning", "edge_tuning", "dag_offloading"),
])
def test_wrong_system_is_refused_by_run_validate_and_sweep(capsys, tmp_path, scenario, controller, serves, system):
    path = str(ROOT / scenario)
    out = tmp_path / "out"
    for argv in (["run", path, "--controller", controller, "--out", str(out)],
                 ["validate", path, "--controller", controller],
                 ["sweep", path, "--controller", controller, "--out", str(out), "--workers", "1"]):
        err = _one_line(capsys, argv, out)
        assert f"--controller: {controller} serves {serves}, not this scenario's system {system}" in err, err


def test_wrong_system_in_the_file_names_the_file(user, capsys):
    Path("tiny.yaml").write_text(TINY.replace("name: tiny", "name: tiny\ncontroller: pearl_dt"))
    err = _one_line(capsys, ["validate", "tiny.yaml"])
    assert err.startswith("mecsim: error: tiny.yaml: controller: pearl_dt serves service_management, "
                          "not this scenario's system dag_offloading"), err


def test_user_controller_declares_its_systems(user, capsys, tmp_path):
    elsewhere = user("elsewhere", systems='("edge_tuning",)')
    err = _one_line(capsys, ["run", "tiny.yaml", "--controller", elsewhere, "--out", "o"], tmp_path / "o")
    assert f"{elsewhere} serves edge_tuning, not this scenario's system dag_offloading" in err
    here = user("here", systems='("dag_offloading", "edge_tuning")')
    undeclared = user("undeclared")     # no declaration: accepted, as before systems existed
    for name in (here, undeclared):
        assert main(["run", "tiny.yaml", "--controller", name, "--out", name.split(":")[0], "--quiet"]) == 0
    bad = user("bad_decl", systems='"dag_offloading"')
    err = _one_line(capsys, ["validate", "tiny.yaml", "--controller", bad])
    assert "systems must be a tuple of system names" in err


def test_every_registered_controller_declares_a_known_system():
    from mecsim.systems import SYSTEMS
    for name, entry in REGISTRY.items():
        assert isinstance(entry.systems, tuple) and entry.systems, name
        assert set(entry.systems) <= set(SYSTEMS), name


def test_controllers_lists_systems_trainable_and_description_without_torch():
    code = ("import sys; from mecsim.cli import main; main(['controllers']); "
            "assert 'torch' not in sys.modules, 'the listing imported torch'")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    lines = {line.split()[0]: line for line in run.stdout.splitlines()[1:]}
    assert set(lines) == set(REGISTRY)
    heft = lines["heft"].split(None, 3)
    assert heft[1:3] == ["dag_offloading", "no"] and heft[3].startswith("MRLCO's \"HEFT-based\"")
    assert lines["mrlco"].split()[2] == "yes" and lines["sac_tm"].split()[2:4] == ["via", "sac_baselines"]
    assert "service_management" in lines["local"] and "dag_offloading," in lines["local"]


@pytest.mark.parametrize("name", ["local", "heft", "round_robin", "random_tuning", "greedy"])
def test_description_is_the_docstrings_first_sentence(name):
    doc = " ".join(resolve(name).__doc__.split("\n\n")[0].split()).replace("``", "`")
    said = description(name)
    assert said and len(said) <= 102 and doc.startswith(said.removesuffix(" …"))


# -- user code fails in one line -------------------------------------------------------------------
def test_raising_act_names_controller_time_and_task(user, capsys, tmp_path):
    name = user("bad_act", act="if point.time > 0: raise ZeroDivisionError(f'{point.time:g} {point.key[0]} {point.key[1]}')")
    err = _one_line(capsys, ["run", "tiny.yaml", "--controller", name, "--out", "o"], tmp_path / "o")
    found = re.fullmatch(rf"mecsim: error: {name}: raised ZeroDivisionError at t=(\S+) s, "
                         r"app (\d+) task (\d+): (\S+) (\d+) (\d+)", err)
    assert found, err
    assert found.group(1, 2, 3) == found.group(4, 5, 6) and float(found.group(1)) > 0


def test_raising_observe_and_constructor(user, capsys, tmp_path):
    name = user("bad_observe", observe="raise KeyError('latency')")
    err = _one_line(capsys, ["run", "tiny.yaml", "--controller", name, "--out", "o"], tmp_path / "o")
    assert re.fullmatch(rf"mecsim: error: {name}: raised KeyError in observe at t=[0-9.e+-]+ s, "
                        r"app \d+: 'latency'", err), err
    name = user("bad_init", init="raise RuntimeError('cannot read weights.bin')")
    err = _one_line(capsys, ["run", "tiny.yaml", "--controller", name, "--out", "o"], tmp_path / "o")
    assert err == f"mecsim: error: {name}: raised RuntimeError in its constructor: cannot read weights.bin"


def test_broken_module(user, capsys, tmp_path):
    name = user("syntax_error", source="class Ctrl:\n    def act(self, point)\n        return 0\n")
    err = _one_line(capsys, ["run", "tiny.yaml", "--controller", name, "--out", "o"], tmp_path / "o")
    assert err.startswith(f"mecsim: error: {name}: raised SyntaxError importing module 'syntax_error': ")
    assert "line 2" in err
    name = user("top_level", source="import math\nSCALE = math.sqrt(-1)\n")
    err = _one_line(capsys, ["validate", "tiny.yaml", "--controller", name])
    assert err == f"mecsim: error: {name}: raised ValueError importing module 'top_level': math domain error"


@pytest.mark.parametrize("override, message", [
    ("threshold=big", "controller_params.threshold: must be float, got 'big'"),
    ("threshold=true", "controller_params.threshold: must be float, got True"),
    ("mode=[1, 2]", "controller_params.mode: must be str, got [1, 2]"),
])
def test_parameter_of_the_wrong_type(user, capsys, tmp_path, override, message):
    name = user("typed")
    err = _one_line(capsys, ["run", "tiny.yaml", "--controller", name, "--set", f"controller_params.{override}",
                             "--out", "o"], tmp_path / "o")
    assert err == f"mecsim: error: controller {name!r}: {message}", err


def test_parameters_of_the_right_type_pass(user):
    name = user("typed_ok")
    assert main(["validate", "tiny.yaml", "--controller", name, "--set", "controller_params.threshold=2",
                 "--set", "controller_params.mode=b"]) == 0


def test_conforms_reads_the_common_annotations():
    assert _conforms(3, float) and not _conforms(True, float) and not _conforms(3.0, int)
    assert _conforms(None, Optional[float]) and _conforms(1.5, float | None) and not _conforms("x", float | None)
    assert _conforms("rank", Literal["rank", "id"]) and not _conforms("ranks", Literal["rank", "id"])
    assert _conforms([1, 2], list[int]) and not _conforms([1, "2"], list[int]) and not _conforms(1, list[int])
    assert _conforms([1, 2.5], tuple[float, float]) and not _conforms([1], tuple[float, float])
    assert _conforms({"a": 1}, dict[str, int]) and not _conforms({"a": "b"}, dict[str, float])
    assert _conforms("weights.pt", Path)       # what the constructor converts is left to it


def test_debug_shows_the_traceback(user, tmp_path):
    name = user("debug_act", act="raise ZeroDivisionError('no load to divide')")
    run = subprocess.run([sys.executable, "-m", "mecsim.cli", "--debug", "run", "tiny.yaml", "--controller", name,
                          "--out", "o"], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2
    assert "Traceback" in run.stderr and "debug_act.py" in run.stderr and "no load to divide" in run.stderr
    assert not (tmp_path / "o").exists()


def test_labels_and_keys_number_tasks_alike(user):
    """The label in messages says the task id of ``key`` (0-based, as in apps.csv), not the file's label."""
    name = user("labels", act="assert point.label == f'app {point.key[0]} task {point.key[1]}', point.label")
    assert main(["run", "tiny.yaml", "--controller", name, "--no-trace", "--out", "o", "--quiet"]) == 0


def test_version():
    run = subprocess.run([sys.executable, "-m", "mecsim.cli", "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == f"mecsim {mecsim.__version__}"
    assert importlib.metadata.version("mecsim") == mecsim.__version__   # setup.cfg reads the same attribute
