"""An agent's processes end with it, including one that left its session and dropped its environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from rdagent_autorl.run.agent_process import reaper_command, stop_agent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the subreaper flag is Linux's")

# What a hostile agent does to outlive its run: a daemon in a new session, with an empty environment (no
# WORKSPACE to be found by), started through a double fork so it is nobody's child.
ESCAPE = 'setsid env -i sh -c \'echo $$ > "$1"; exec sleep 300\' sh "{pidfile}" < /dev/null > /dev/null 2>&1 &'


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def _daemon_pid(pidfile, timeout=10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pidfile.exists() and pidfile.read_text().strip():
            return int(pidfile.read_text())
        time.sleep(0.05)
    raise AssertionError("the agent's daemon never started")


def _gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def _start(tmp_path, script_body: str) -> subprocess.Popen:
    script = tmp_path / "start.sh"
    script.write_text(script_body)
    return subprocess.Popen(reaper_command(["bash", str(script)]), cwd=tmp_path, start_new_session=True,
                            env={**os.environ, "WORKSPACE": str(tmp_path)})


def test_a_setsid_daemon_without_environment_dies_when_the_agent_is_stopped(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    proc = _start(tmp_path, ESCAPE.format(pidfile=pidfile) + "\nsleep 300\n")
    daemon = _daemon_pid(pidfile)
    assert _alive(daemon) and os.getsid(daemon) != os.getsid(proc.pid)  # it did leave the agent's session
    stop_agent(proc, tmp_path)  # what the harness does at the deadline
    assert _gone(daemon), f"daemon {daemon} outlived the stopped agent"


def test_what_an_agent_leaves_running_is_ended_when_it_exits(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    wait = f'while [ ! -s "{pidfile}" ]; do sleep 0.05; done'  # exit only once the daemon is up
    proc = _start(tmp_path, ESCAPE.format(pidfile=pidfile) + f"\n{wait}\nexit 3\n")
    daemon = _daemon_pid(pidfile)
    assert proc.wait(timeout=30) == 3  # the agent's own exit code comes through
    assert _gone(daemon), f"daemon {daemon} outlived the agent's exit"
