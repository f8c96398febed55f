"""Which sandbox runs model-written code, and the bubblewrap command line that builds it.

Kinds (setting AUTORL_CODE_SANDBOX): `bwrap` — bubblewrap (Debian's `bubblewrap`): new user, PID,
network, IPC and UTS namespaces, a read-only view of the system libraries and the standard library
only (site-packages hidden, no /etc, /home, project checkout or caches), a private tmpfs for cwd
and /tmp, all capabilities dropped, killed with its parent; `guards` — no OS isolation of the
filesystem or PIDs, only Python-level write guards (weaker; a warning says so); `auto` — bwrap
when it works here, else guards with that warning. Both kinds add rlimits and the seccomp filter
of sandboxed/confine.py, and in both the verdict is decided outside the program (code_exec).
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

SANDBOXED_DIR = Path(__file__).parent / "sandboxed"  # the child-side scripts, mounted read-only
INSIDE_DIR = "/autorl-sandboxed"  # where they appear inside bubblewrap
WORK_DIR = "/sandbox"  # the program's cwd and HOME inside bubblewrap (a tmpfs)
TMPFS_BYTES = 64 << 20

log = logging.getLogger(__name__)


class SandboxUnavailable(RuntimeError):
    """The sandbox kind asked for cannot run on this machine."""


def interpreter() -> str:
    """The base interpreter (not a venv's launcher): run with -I -S it sees the standard library only."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _site_dirs() -> list[str]:
    """Installed-package folders of the base interpreter and the system: hidden inside the sandbox."""
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    found = {sysconfig.get_path(name, vars=base) for name in ("purelib", "platlib")}
    found.update(glob.glob("/usr/lib/python3*/dist-packages") + glob.glob("/usr/local/lib/python3*/*-packages"))
    return sorted(d for d in found if os.path.isdir(d))


def system_view() -> list[str]:
    """bwrap arguments for a read-only view of the system's programs and libraries (/usr, /bin, /lib...)
    and of the base interpreter's prefix: what any sandboxed Python needs, nothing of /etc, /home or data.
    Shared with the agent sandbox (run/sandbox.py)."""
    argv = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    prefixes = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix, os.path.dirname(interpreter()))}
    for prefix in sorted(p for p in prefixes if p != "/usr" and not p.startswith("/usr/")):
        argv += ["--ro-bind", prefix, prefix]
    return argv


def bwrap_prefix(tag: str) -> list[str]:
    """`bwrap ... --` for a program run as `interpreter() -I -S INSIDE_DIR/candidate.py`; `tag` marks its argv."""
    argv = ["bwrap", *system_view()]
    for hidden in _site_dirs():
        argv += ["--tmpfs", hidden]
    argv += ["--ro-bind", str(SANDBOXED_DIR), INSIDE_DIR, "--proc", "/proc", "--dev", "/dev",
             "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp", "--size", str(TMPFS_BYTES), "--tmpfs", WORK_DIR,
             "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", "sandbox",
             "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", WORK_DIR,
             "--setenv", "TMPDIR", "/tmp", "--setenv", "LC_ALL", "C.UTF-8", "--setenv", "OMP_NUM_THREADS", "1",
             "--setenv", "AUTORL_SANDBOX", tag, "--chdir", WORK_DIR, "--"]
    return argv


@functools.lru_cache(maxsize=None)
def bwrap_unavailable_reason() -> str:
    """'' when bubblewrap starts the interpreter here, else why not."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        done = subprocess.run(bwrap_prefix("probe") + [interpreter(), "-I", "-S", "-c", "pass"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bwrap did not start: {e}"
    return "" if done.returncode == 0 else f"bwrap failed here: {done.stderr.strip()[:300]}"


@functools.lru_cache(maxsize=None)
def resolve(kind: str) -> str:
    """The kind that will run: `bwrap` or `guards` (see the module doc); auto falls back loudly."""
    if kind == "guards":
        log.warning("code sandbox: Python-level guards only (AUTORL_CODE_SANDBOX=guards); "
                    "model-written code is not isolated from this machine's files by the OS")
        return "guards"
    why = bwrap_unavailable_reason()
    if not why:
        return "bwrap"
    if kind == "bwrap":
        raise SandboxUnavailable(f"AUTORL_CODE_SANDBOX=bwrap, but {why}")
    log.warning("code sandbox: %s; falling back to Python-level guards, which do not isolate "
                "model-written code from this machine's files (install bubblewrap)", why)
    return "guards"
