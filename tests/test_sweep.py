"""`rdagent autorl sweep` (rdagent_autorl/sweep): the sweep file's validation, its cells, and a local Ray sweep on
CPU run as a user runs it (2 tasks x 2 agents x 2 seeds with the tiny model; the rdagent agent under a FAKE
driver, plus a driver whose key is not set: its cells fail, the rest finish), its tables and figures, --resume,
and the same seed reproducing the same scores."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import RDAGENT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ABSENT_KEY = "AUTORL_TEST_SWEEP_KEY_NEVER_SET"


def _sweep(*args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != ABSENT_KEY}
    return subprocess.run([RDAGENT, "autorl", "sweep", *args], capture_output=True, text=True, timeout=timeout, env=env)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("body, named", [
    ("name: s\ntasks: [gsm8k-rule]\nagents: [example]\nseed: [1]\n", "seed: Extra inputs are not permitted"),
    ("name: s\ntasks: [gsm8k-rul]\nagents: [example]\n", "unknown task 'gsm8k-rul'"),
    ("name: s\ntasks: [gsm8k-rule]\nagents: [exampel]\n", "unknown agent 'exampel'"),
    ("name: s\ntasks: [gsm8k-rule]\nagents: [example]\nseeds: [1, 1]\n", "seeds: 1 listed twice"),
    ("name: s\ntasks: [gsm8k-rule]\nagents: [example]\ndrivers: [{name: d, env: {OPENAI_API_KEY: sk-1}}]\n",
     "OPENAI_API_KEY look like secrets"),
    ("name: s\ntasks: [gsm8k-rule]\nagents: [example]\nreferences: {humaneval-rule: 90}\n",
     "references: humaneval-rule not among the sweep's tasks"),
    ("name: a/b\ntasks: [gsm8k-rule]\nagents: [example]\n", "sweep name 'a/b'"),
    ("- not a mapping\n", "expected a mapping"),
])
def test_a_bad_sweep_file_is_an_error_naming_what_is_wrong(tmp_path, body, named):
    done = _sweep(str(_write(tmp_path / "s.yaml", body)), "--dry-run")
    assert done.returncode == 2 and named in done.stderr, done.stderr
    assert not (Path(os.environ["AUTORL_HOME"]) / "sweeps" / "s").exists()


def test_cells_and_the_dry_run(tmp_path):
    """An agent without an LLM runs once per task, model and seed whatever the drivers; the dry run lists every
    cell's bench command, says which will fail (a key not set), and starts nothing."""
    from rdagent_autorl.sweep.config import expand, load_sweep

    path = _write(tmp_path / "grid.yaml", (
        "name: grid\ntasks: [gsm8k-rule, humaneval-rule]\nagents: [example, rdagent]\nseeds: [0, 1, 2]\nsmoke: true\n"
        f"drivers: [{{name: a}}, {{name: b, env: {{CHAT_MODEL: gpt-4o}}, keys: [{ABSENT_KEY}]}}]\n"))
    config, _ = load_sweep(path)
    cells = expand(config)
    assert len(cells) == 2 * 3 + 2 * 2 * 3  # example: tasks x seeds; rdagent: tasks x drivers x seeds
    assert {c.driver for c in cells if c.agent == "example"} == {"-"}
    assert len({c.key for c in cells}) == len(cells)
    done = _sweep(str(path), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("--sweep-cell grid=") == len(cells)
    assert done.stdout.count(f"WILL FAIL: driver 'b' needs {ABSENT_KEY}") == 6
    assert "--seed 2" in done.stdout and "--smoke" in done.stdout
    assert not (Path(os.environ["AUTORL_HOME"]) / "sweeps" / "grid").exists()


@pytest.mark.timeout(1800)
def test_a_local_ray_sweep_runs_every_cell_writes_its_tables_and_resumes(_isolated_env, tiny_model, math_task_dir,
                                                                          tmp_path):
    from rdagent_autorl.bench.ledger import runs

    backends = tmp_path / "backends"  # the FAKE driver's module alone (tests/ stays out of the agent sandbox)
    backends.mkdir()
    shutil.copy(Path(__file__).parent / "fake_drivers.py", backends)
    path = _write(tmp_path / "cpu.yaml", f"""
name: cpu-grid
tasks: [gsm8k-rule, {math_task_dir}]
agents: [example, rdagent]
drivers:
  - name: fake-plan          # FAKE at the LLM boundary: the scripted driver with a test-sized plan
    env: {{BACKEND: fake_drivers.FastPlanDriver, PYTHONPATH: {backends}, AUTORL_LOOP_N: "1"}}
  - name: needs-key          # its key is not set: these cells fail, the others finish
    env: {{CHAT_MODEL: gpt-4o}}
    keys: [{ABSENT_KEY}]
models: [tiny]
seeds: [0, 1]
smoke: true
limit: 40
""")
    done = _sweep(str(path), "--max-parallel", "2", timeout=1500)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]  # exit 1: some cells failed
    folder = _isolated_env / "sweeps" / "cpu-grid"
    manifest = json.loads((folder / "manifest.json").read_text())["cells"]
    assert len(manifest) == 12
    failed = [c for c in manifest if c["status"] == "failed"]
    finished = [c for c in manifest if c["status"] == "done"]
    assert {c["driver"] for c in failed} == {"needs-key"} and len(failed) == 4
    assert all(ABSENT_KEY in c["error"] for c in failed)
    assert len(finished) == 8, [(c["key"], c["error"]) for c in manifest if c["status"] != "done"]

    # Every finished cell is in the ledger under the sweep, with its seed; the seed reached the training.
    rows = {r["cell"]: r for r in runs(sweep_id="cpu-grid")}
    assert set(rows) == {c["key"] for c in finished}
    for c in finished:
        assert rows[c["key"]]["seed"] == c["seed"] and c["run_dir"] == str(Path(rows[c["key"]]["workspace"]).parent)
        if c["agent"] == "example":
            logs = "".join(p.read_text() for p in (Path(c["run_dir"]) / "workspace").glob("*.log"))
            assert f'"seed": {c["seed"]}' in logs, c["key"]
    assert {r["driver"] for r in rows.values() if r["agent"] == "rdagent"} == {"backend fake_drivers.FastPlanDriver"}

    # The tables: one row per task x agent x driver x model, over both seeds; the cross-task score; the figures.
    with (folder / "summary.csv").open() as f:
        table = list(csv.DictReader(f))
    assert {(r["task"], r["agent"], r["driver"]) for r in table} == {
        (t, a, d) for t in ("gsm8k-rule", "mini-math") for a, d in (("example", "-"), ("rdagent", "fake-plan"))}
    assert all(r["runs"] == "2" and r["flagged"] == "0" and r["final"] != "-" for r in table if r["task"] == "gsm8k-rule")
    assert all(r["routes_used"] != "-" for r in table)
    md = (folder / "summary.md").read_text()
    assert "## Cross-task score" in md and "| example | - | tiny | 2 |" in md
    assert "needs-key" in md  # the failed cells are listed with their errors
    figures = sorted(p.name for p in (folder / "figures").glob("*.png"))
    assert "improvement_per_task.png" in figures and "route_shares.png" in figures
    assert sum(name.startswith("score_vs_time--") for name in figures) == 4
    assert all((folder / "figures" / n).read_bytes().startswith(PNG_SIGNATURE) for n in figures)
    assert "<img src=\"figures/improvement_per_task.png\"" in (folder / "summary.html").read_text()
    # The leaderboard gives the same tables.
    board = subprocess.run([RDAGENT, "autorl", "leaderboard", "--sweep", "cpu-grid", "--format", "csv"],
                           capture_output=True, text=True, timeout=120)
    assert board.returncode == 0 and list(csv.DictReader(board.stdout.splitlines())) == table

    # A second start without --resume is refused; --resume runs nothing that is in the ledger.
    again = _sweep(str(path))
    assert again.returncode == 2 and "--resume" in again.stderr
    bench_runs = sorted((_isolated_env / "bench").iterdir())
    resumed = _sweep(str(path), "--resume", timeout=600)
    assert resumed.returncode == 1  # the key is still not set: those cells fail again
    assert sorted((_isolated_env / "bench").iterdir()) == bench_runs and len(runs(sweep_id="cpu-grid")) == 8
    statuses = [c["status"] for c in json.loads((folder / "manifest.json").read_text())["cells"]]
    assert statuses.count("skipped") == 8 and statuses.count("failed") == 4

    # The same cell with the same seed on this machine reproduces its scores (CPU, tiny model).
    repeat = _write(tmp_path / "repeat.yaml", f"name: repeat\ntasks: [{math_task_dir}]\nagents: [example]\nseeds: [1]\n"
                                              "models: [tiny]\nsmoke: true\nlimit: 40\n")
    assert _sweep(str(repeat), timeout=600).returncode == 0
    first = rows["mini-math/example/-/tiny/seed1"]
    second = runs(sweep_id="repeat")[0]
    assert (second["best"], second["final"], second["baseline"]) == (first["best"], first["final"], first["baseline"])

    # The bench dashboard shows the sweep's tables and figures.
    import importlib.util

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(importlib.util.find_spec("rdagent_autorl.bench.dashboard").origin, default_timeout=60)
    at.run()
    at.sidebar.selectbox[2].set_value("cpu-grid").run()
    assert not at.exception
    assert "Cross-task score" in "\n".join(m.value for m in at.markdown)
    assert len(at.get("image")) == len(figures)


@pytest.mark.timeout(900)
def test_ctrl_c_stops_the_sweep_and_every_process_of_its_running_cell(_isolated_env, tiny_model, tmp_path):
    """Ctrl-C (SIGINT to the sweep's process group, as a terminal sends it) while a cell's run is under way: the
    sweep exits 130 saying how to resume, the cell is `cancelled` and the next never starts, no process of the run
    or of Ray is left, and the ledger has no row of the sweep."""
    import signal
    import time

    import psutil

    from rdagent_autorl.bench.ledger import runs

    path = _write(tmp_path / "stop.yaml", "name: stop-me\ntasks: [gsm8k-rule]\nagents: [example]\nseeds: [0, 1]\n"
                  "smoke: true\nlimit: 20\n")
    bench_dir = str(_isolated_env / "bench")

    def leftovers() -> list[str]:
        found = []
        for p in psutil.process_iter(["pid", "cmdline", "cwd"]):
            try:
                cmd, pgid = " ".join(p.info["cmdline"] or []), os.getpgid(p.pid)
            except (psutil.Error, ProcessLookupError):
                continue
            if "stop-me=" in cmd or (p.info["cwd"] or "").startswith(bench_dir) or pgid == sweep.pid:
                found.append(f"{p.pid} {cmd[:150]}")
        return found

    sweep = subprocess.Popen([RDAGENT, "autorl", "sweep", str(path), "--max-parallel", "1"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not any("start.sh" in s for s in leftovers()):
        time.sleep(0.2)  # until the first cell's agent runs (its start script): its training and grades are ahead
    assert sweep.poll() is None, sweep.stdout.read()
    os.killpg(sweep.pid, signal.SIGINT)
    out, _ = sweep.communicate(timeout=240)
    assert sweep.returncode == 130 and "--resume" in out, out[-3000:]
    for _ in range(60):
        if not leftovers():
            break
        time.sleep(1)
    assert not leftovers()
    cells = json.loads((_isolated_env / "sweeps" / "stop-me" / "manifest.json").read_text())["cells"]
    assert [c["status"] for c in cells] == ["cancelled", "pending"]
    assert runs(sweep_id="stop-me") == []


def test_a_cells_command_and_environment(tmp_path):
    """The bench command names the cell (seed, sweep tag, the GPUs Ray granted by their ids) and never a key; the
    environment has the driver's settings, its keys read by name, and what the driver unsets (null) removed."""
    from rdagent_autorl.sweep.config import SweepError, expand, load_sweep
    from rdagent_autorl.sweep.engine import bench_command, cell_env

    config, _ = load_sweep(_write(tmp_path / "g.yaml", (
        "name: g\ntasks: [gsm8k-rule]\nagents: [rdagent]\nseeds: [7]\nbudget: 20m\nlimit: 5\nsandbox: none\n"
        "drivers: [{name: real, env: {CHAT_MODEL: gpt-4o, BACKEND: null}, keys: [MY_API_KEY]}]\n")))
    (cell,) = expand(config)
    cmd = bench_command(config, cell, ["3", "5"])
    assert cmd[cmd.index("--gpus") + 1] == "3,5" and cmd[cmd.index("--seed") + 1] == "7"
    assert cmd[cmd.index("--sweep-cell") + 1] == "g=gsm8k-rule/rdagent/real/default/seed7"
    assert [cmd[cmd.index(f) + 1] for f in ("--timeout", "--limit", "--sandbox")] == ["20m", "5", "none"]
    assert "--smoke" not in cmd and bench_command(config, cell, [])[cmd.index("--gpus") + 1] == ""
    env = cell_env(config, cell, {"PATH": "/usr/bin", "BACKEND": "x.Y", "MY_API_KEY": "sk-secret"})
    assert env == {"PATH": "/usr/bin", "CHAT_MODEL": "gpt-4o", "MY_API_KEY": "sk-secret"}
    assert "sk-secret" not in " ".join(cmd)
    with pytest.raises(SweepError, match="MY_API_KEY"):
        cell_env(config, cell, {"PATH": "/usr/bin"})
