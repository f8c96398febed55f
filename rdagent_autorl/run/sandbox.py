"""The agent sandbox: what a benchmark agent's process tree can see (`bench --sandbox bwrap|docker|none`).

Inside, at the same paths as outside, an agent sees only:

    its workspace                          read-write
    its own HOME (<run>/agent-home)        read-write; AUTORL_HOME, the autorl cache (a judge-reward
                                           template's private reply cache) and the HF cache point into it
    /tmp                                   a private tmpfs (bwrap) or the container's own (docker)
    the workspace's links                  read-only: the targets of the links the harness made in the
                                           workspace when it laid it out (base_model, ALFWorld's training
                                           games, WebShop's catalogue, the search collection), as
                                           recorded then (<records>/workspace_links.json)
    the Python environment                 read-only: the venv, the base interpreter, this package and
                                           its templates/ and prompts/, the agent's own folder, the
                                           folders of the PYTHONPATH the harness was given
    the system                             read-only: /usr, /bin, /lib, a few files of /etc (DNS, TLS
                                           roots, users), /sys; /dev minimal plus the GPUs' device nodes
    the network                            the host's (the grader's URL and LLM APIs stay reachable,
                                           and so does every other service listening on this machine)

and not: `$AUTORL_HOME` (caches, grades, ledger, the installation key, other runs), the grader's
records beside the workspace, the project checkout (tests, .git), the HF cache, other users' files, and
the processes outside (a PID namespace: /proc shows the sandbox's own). Files that ship held-out data
inside installed packages (each task declares them: `TaskSpec.heldout_files`, e.g. HumanEval's problem
file) are masked inside the venv. A task's held-out loaders can be imported, but what they load from
is outside: the data, the caches and the per-installation key its generators' evaluation seeds come
from (installation.py).

`none` runs the agent as before, with a loud warning: the contamination check then is what notices a
run that read held-out data. `auto` (the default) is bwrap on Linux where it starts, else `none` with
that warning. docker runs the start script in a container (AUTORL_SANDBOX_IMAGE; the default is the
official Python image of this interpreter's version, whose /usr/local matches a venv built on one)
with the same mounts, the host's network and the run's GPUs as device requests; it is driven by the
Docker SDK from a small process of its own (`python -m rdagent_autorl.run.sandbox docker SPEC`) so
that the reaper ends it like any agent process.
"""

from __future__ import annotations

import functools
import glob
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Mapping

log = logging.getLogger(__name__)

SandboxKind = Literal["bwrap", "docker", "none"]
KINDS = ("auto", "bwrap", "docker", "none")
LINKS_FILE = "workspace_links.json"  # in the grader's records folder: the links the harness made
AGENT_HOME = "agent-home"  # in the run folder
# Variables that name where held-out data, grades and keys live: the agent gets its own instead.
SANDBOXED_VAR = "AUTORL_SANDBOXED"  # set inside: the kind that confines this process (bwrap does not nest)
PRIVATE_ENV = ("AUTORL_HOME", "AUTORL_CACHE_DIR", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",
               "HF_DATASETS_CACHE", "TRANSFORMERS_CACHE", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")
ETC_FILES = ("resolv.conf", "hosts", "nsswitch.conf", "passwd", "group", "localtime", "ssl", "ca-certificates",
             "pki", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "mime.types")


class SandboxUnavailable(RuntimeError):
    """The sandbox kind asked for cannot run on this machine; the message says why and what to do."""


@dataclass(frozen=True)
class Mounts:
    """Everything an agent sees besides the system: one list for bwrap and docker alike."""

    workspace: str
    home: str
    read_only: tuple[str, ...]
    hidden: tuple[str, ...] = ()  # paths inside read_only that are masked
    gpus: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()  # more read-write folders (the loop's scratch folder for dry runs)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Mounts":
        raw = json.loads(text)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


# ---- what the agent sees -------------------------------------------------------------------------------

def record_workspace_links(workspace: Path, records: Path) -> None:
    """Write down the links of a freshly laid-out workspace (all the harness's own) and their targets:
    the sandbox mounts those targets, never what a link made later (by an agent) points to."""
    path = Path(records) / LINKS_FILE
    if path.exists():
        return
    links = {}
    for folder, dirs, files in os.walk(workspace):
        for name in dirs + files:
            p = Path(folder) / name
            if p.is_symlink():
                links[str(p.relative_to(workspace))] = str(p.resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(links, indent=2, sort_keys=True) + "\n")


def workspace_link_targets(workspace: Path, records: Path, base_model: str) -> list[str]:
    """The link targets to mount: as recorded at layout; a run laid out before they were recorded gets its
    base model only."""
    path = Path(records) / LINKS_FILE
    targets = list(json.loads(path.read_text()).values()) if path.exists() else [str(Path(base_model).resolve())]
    return [t for t in targets if os.path.exists(t)]


def _python_env() -> list[str]:
    """The venv, the base interpreter and the folders its .pth files add (an editable install's source)."""
    import rdagent_autorl

    found = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix),
             str(Path(rdagent_autorl.__file__).resolve().parent)}
    for site in {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}:
        for pth in glob.glob(os.path.join(site, "*.pth")):
            for line in Path(pth).read_text(errors="replace").splitlines():
                line = line.strip()
                if line and not line.startswith(("#", "import")) and os.path.isdir(line):
                    found.add(os.path.realpath(line))
    return sorted(found)


def _heldout_files() -> list[str]:
    """Every task's files that ship held-out data in installed packages (all tasks': a run on one task has
    no business reading another's)."""
    from rdagent_autorl.tasks import TASK_IDS, get_task

    out: set[str] = set()
    for task_id in TASK_IDS:
        task = get_task(task_id)
        if task.available and task.heldout_files:
            out.update(str(p) for p in task.heldout_files() if os.path.exists(p))
    return sorted(out)


def agent_mounts(workspace: Path, home: Path, *, agent_folder: Path | None, link_targets: list[str],
                 gpus: list[str] | None = None, python_path: str = "", writable: tuple[Path, ...] = ()) -> Mounts:
    """`python_path`: the PYTHONPATH the harness was given, whose folders are mounted read-only (a custom
    RD-Agent backend named by BACKEND lives there): the user's configuration, not the agent's."""
    from rdagent_autorl.settings import get_settings

    s = get_settings()
    user_path = [str(Path(p).resolve()) for p in python_path.split(os.pathsep) if p and os.path.isdir(p)]
    read_only = {*_python_env(), str(s.templates_dir), str(s.prompts_dir), *link_targets, *user_path,
                 *([str(Path(agent_folder).resolve())] if agent_folder else [])}
    for folder in writable:
        Path(folder).mkdir(parents=True, exist_ok=True)
    return Mounts(workspace=str(Path(workspace).resolve()), home=str(Path(home).resolve()),
                  read_only=tuple(sorted(p for p in read_only if os.path.exists(p))),
                  hidden=tuple(_heldout_files()), gpus=tuple(gpus or ()),
                  writable=tuple(str(Path(w).resolve()) for w in writable))


def sandbox_env(env: Mapping[str, str], mounts: Mounts) -> dict[str, str]:
    """The agent's environment inside: its own HOME, autorl home and caches instead of the harness's."""
    home = mounts.home
    out = {k: v for k, v in env.items() if k not in PRIVATE_ENV}
    out.update(HOME=home, TMPDIR="/tmp", AUTORL_HOME=f"{home}/.autorl", AUTORL_CACHE_DIR=f"{home}/.autorl/cache",
               HF_HOME=f"{home}/.cache/huggingface", XDG_CACHE_HOME=f"{home}/.cache")
    return out


def bound_paths(mounts: Mounts) -> list[tuple[str, str, bool]]:
    """(target, source, read_only) of every bind besides the system's, in the order they apply: the
    read-only mounts, the masks over them, then the writable folders (later binds win)."""
    binds = [(p, p, True) for p in mounts.read_only]
    binds += [(p, "/dev/null", True) for p in mounts.hidden if not os.path.isdir(p)]
    return binds + [(p, p, False) for p in (*mounts.writable, mounts.home, mounts.workspace)]


# ---- bwrap ---------------------------------------------------------------------------------------------

def _gpu_devices(gpus: tuple[str, ...]) -> list[str]:
    """NVIDIA device nodes for the run's GPUs (all of them when the ids are not plain indices), plus the
    control nodes CUDA opens."""
    nodes = [p for p in ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset")
             if os.path.exists(p)]
    if gpus and all(g.isdigit() for g in gpus):
        nodes += [f"/dev/nvidia{g}" for g in gpus if os.path.exists(f"/dev/nvidia{g}")]
    elif gpus:
        nodes += sorted(p for p in glob.glob("/dev/nvidia[0-9]*"))
    return nodes


def bwrap_command(mounts: Mounts, cmd: list[str], cwd: str | None = None) -> list[str]:
    """The bwrap command line that runs `cmd` in the agent's view (module doc), in `cwd` [default: the
    workspace]. Later binds win, so the masks come after the read-only mounts and the writable folders
    after everything."""
    from rdagent_autorl.scoring.code_sandbox import system_view

    argv = ["bwrap", *system_view()]
    for name in ETC_FILES:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    argv += ["--ro-bind-try", "/sys", "/sys", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for node in _gpu_devices(mounts.gpus):
        argv += ["--dev-bind", node, node]
    binds = bound_paths(mounts)
    for target, source, read_only in binds[:len(mounts.read_only)]:
        argv += ["--ro-bind", source, target]
    for path in mounts.hidden:  # folders as empty tmpfs, files as /dev/null
        argv += ["--tmpfs", path] if os.path.isdir(path) else ["--ro-bind", "/dev/null", path]
    for target, source, read_only in binds:
        if not read_only:
            argv += ["--bind", source, target]
    argv += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "agent-sandbox",
             "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--chdir", cwd or mounts.workspace, "--"]
    return argv + list(cmd)


@functools.lru_cache(maxsize=None)
def bwrap_unavailable_reason() -> str:
    """'' when bwrap starts a process in an agent's view here (with a scratch workspace), else why not."""
    import tempfile

    if not sys.platform.startswith("linux"):
        return f"bwrap needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory() as tmp:
        probe = Mounts(workspace=tmp, home=tmp, read_only=tuple(_python_env()))
        try:
            done = subprocess.run(bwrap_command(probe, [sys.executable, "-I", "-c", "pass"]), capture_output=True,
                                  text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"bwrap did not start: {e}"
    return "" if done.returncode == 0 else f"bwrap failed here: {done.stderr.strip()[:300]}"


# ---- docker --------------------------------------------------------------------------------------------

def default_image() -> str:
    return f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"


def docker_run_kwargs(mounts: Mounts, env: Mapping[str, str], cmd: list[str], image: str) -> dict:
    """Keyword arguments of the Docker SDK's `containers.run` for `cmd` in the agent's view: the same
    mounts (masks as empty read-only binds of /dev/null or tmpfs), the host's network, the run's user,
    the GPUs as device requests."""
    from docker.types import DeviceRequest, Mount

    binds = [Mount(target, source, type="bind", read_only=ro) for target, source, ro in bound_paths(mounts)]
    tmpfs = {"/tmp": "", **{p: "ro" for p in mounts.hidden if os.path.isdir(p)}}
    requests = []
    if mounts.gpus:
        requests.append(DeviceRequest(device_ids=list(mounts.gpus), capabilities=[["gpu"]]))
    return {"image": image, "command": list(cmd), "mounts": binds, "tmpfs": tmpfs, "environment": dict(env),
            "working_dir": mounts.workspace, "network_mode": "host", "user": f"{os.getuid()}:{os.getgid()}",
            "device_requests": requests, "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"],
            "detach": True, "labels": {"rdagent-autorl": "agent"}}


def docker_unavailable_reason() -> str:
    try:
        import docker

        docker.from_env().ping()
    except Exception as e:  # ImportError, DockerException (no daemon, no permission)
        return f"the Docker daemon is not reachable here ({e})"
    return ""


def run_in_docker(spec_file: Path) -> int:
    """Run one agent container to its end (the process `docker_command` starts): the container gets this
    process's environment (the agent's; it is never written to disk), its output goes to this process's
    stdout, and SIGTERM (the reaper ending the agent) stops and removes it."""
    import docker

    spec = json.loads(Path(spec_file).read_text())
    mounts = Mounts.from_json(json.dumps(spec["mounts"]))
    client = docker.from_env()
    container = client.containers.run(**docker_run_kwargs(mounts, os.environ, spec["cmd"], spec["image"]))

    def stop(signum, frame):
        container.stop(timeout=5)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for chunk in container.logs(stream=True, follow=True):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
        return int(container.wait().get("StatusCode", 1))
    finally:
        container.remove(force=True)


def docker_command(mounts: Mounts, cmd: list[str], image: str, spec_file: Path) -> list[str]:
    """The command line of the process that runs `cmd` in a container (run_in_docker); the spec file holds
    the mounts, the command and the image, not the environment."""
    spec_file.write_text(json.dumps({"mounts": json.loads(mounts.to_json()), "cmd": list(cmd), "image": image}))
    return [sys.executable, "-I", "-m", "rdagent_autorl.run.sandbox", "docker", str(spec_file)]


# ---- choosing and wrapping -----------------------------------------------------------------------------

def resolve_kind(requested: str) -> SandboxKind:
    """The kind that will run. `auto`: bwrap where it starts here, else `none` with a loud warning; a kind
    asked for by name that cannot run is an error saying why."""
    if requested not in KINDS:
        raise SandboxUnavailable(f"unknown sandbox {requested!r}: one of {', '.join(KINDS)}")
    if requested == "none":
        log.warning("agent sandbox: none (asked for). The agent runs with this user's view of the machine: "
                    "it can read held-out data, grades and keys; only the contamination check would notice")
        return "none"
    if requested == "docker":
        if why := docker_unavailable_reason():
            raise SandboxUnavailable(f"--sandbox docker: {why}")
        return "docker"
    why = bwrap_unavailable_reason()
    if not why:
        return "bwrap"
    if requested == "bwrap":
        raise SandboxUnavailable(f"--sandbox bwrap: {why}")
    log.warning("AGENT SANDBOX UNAVAILABLE: %s. The agent runs unsandboxed (--sandbox none): it can read "
                "held-out data, grades and keys on this machine; install bubblewrap", why)
    return "none"


@dataclass(frozen=True)
class AgentSandbox:
    """How one agent's command runs: the kind, its mounts, and where the harness keeps its files."""

    kind: SandboxKind
    mounts: Mounts | None = None
    image: str = ""
    spec_file: Path | None = field(default=None)

    def wrap(self, cmd: list[str], env: Mapping[str, str], cwd: Path | None = None) -> tuple[list[str], dict[str, str]]:
        """(command line, environment) that run `cmd` inside this sandbox (in `cwd`: bwrap only; docker
        starts in the workspace)."""
        if self.kind == "none" or self.mounts is None:
            return list(cmd), dict(env)
        Path(self.mounts.home).mkdir(parents=True, exist_ok=True)
        inner_env = {**sandbox_env(env, self.mounts), SANDBOXED_VAR: self.kind}
        if self.kind == "bwrap":
            return bwrap_command(self.mounts, cmd, str(cwd) if cwd else None), inner_env
        return docker_command(self.mounts, cmd, self.image or default_image(), self.spec_file), inner_env


def for_run(kind: SandboxKind, *, run_dir: Path, workspace: Path, records: Path, base_model: str,
            agent_folder: Path, gpus: list[str], python_path: str = "") -> AgentSandbox:
    """The sandbox of one bench run's agent (kind as resolve_kind chose it)."""
    if kind == "none":
        return AgentSandbox("none")
    from rdagent_autorl.settings import get_settings

    mounts = agent_mounts(workspace, Path(run_dir) / AGENT_HOME, agent_folder=agent_folder, gpus=gpus,
                          link_targets=workspace_link_targets(workspace, records, base_model), python_path=python_path)
    return AgentSandbox(kind, mounts, image=get_settings().sandbox_image, spec_file=Path(run_dir) / "docker-agent.json")


def for_training(*, run_dir: Path, workspace: Path, base_model: str, gpus: list[str]) -> AgentSandbox:
    """The sandbox of the code the in-process loop's driver LLM wrote (the coder's dry runs, the runner's
    training; AUTORL_TRAINING_SANDBOX): the agent's view of the loop's workspace, plus its scratch folder.
    Inside an agent sandbox already (`bench --agent rdagent`) it runs as it is: that sandbox confines it,
    and bwrap does not nest."""
    from rdagent_autorl.grading.run import records_dir_for
    from rdagent_autorl.settings import get_settings

    if inside := os.environ.get(SANDBOXED_VAR):
        log.info("training code runs in the agent sandbox around this process (%s)", inside)
        return AgentSandbox("none")
    kind = resolve_kind(get_settings().training_sandbox)
    if kind == "none":
        return AgentSandbox("none")
    mounts = agent_mounts(workspace, Path(run_dir) / AGENT_HOME, agent_folder=None, gpus=gpus,
                          link_targets=workspace_link_targets(workspace, records_dir_for(workspace), base_model),
                          python_path=os.environ.get("PYTHONPATH", ""), writable=(Path(run_dir) / "scratch",))
    return AgentSandbox(kind, mounts, image=get_settings().sandbox_image, spec_file=Path(run_dir) / "docker-training.json")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "docker":
        print("usage: python -m rdagent_autorl.run.sandbox docker SPEC.json", file=sys.stderr)
        return 2
    return run_in_docker(Path(args[1]))


if __name__ == "__main__":
    sys.exit(main())
