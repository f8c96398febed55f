"""How a sandboxed program is confined from inside, before any untrusted code is read.

Run in the child (standard library only, imported by plain name). The operating system does the
work: rlimits, and a seccomp filter that makes the kernel refuse process creation, exec, sockets,
signals and tracing for the rest of the process's life (no Python-level trick undoes it). Why a
hand-written BPF program: the standard library has no seccomp binding and libseccomp's Python
binding is not on PyPI; the filter is a dozen instructions.
`guard_files` is the fallback's filesystem fence for machines without bubblewrap: Python-level,
so a program that reaches `ctypes` steps around it (say so wherever that kind is used).
"""

import ctypes
import errno
import os
import resource
import struct

FILE_SIZE_LIMIT = 16 << 20

# Syscalls refused with EPERM: creating processes or threads, exec, sockets, signalling or tracing
# other processes, namespaces and mounts, and kernel interfaces a grader has no use for.
_DENIED = {
    "x86_64": (0xC000003E, {
        "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "kill": 62, "ptrace": 101, "tkill": 200,
        "tgkill": 234, "execveat": 322, "clone3": 435, "socket": 41, "socketpair": 53,
        "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_open": 434, "pidfd_send_signal": 424,
        "unshare": 272, "setns": 308, "mount": 165, "io_uring_setup": 425, "keyctl": 250, "bpf": 321,
        "userfaultfd": 323, "perf_event_open": 298}),
    "aarch64": (0xC00000B7, {
        "clone": 220, "execve": 221, "kill": 129, "tkill": 130, "tgkill": 131, "ptrace": 117,
        "execveat": 281, "clone3": 435, "socket": 198, "socketpair": 199, "process_vm_readv": 270,
        "process_vm_writev": 271, "pidfd_open": 434, "pidfd_send_signal": 424, "unshare": 97,
        "setns": 268, "mount": 40, "io_uring_setup": 425, "keyctl": 219, "bpf": 280, "userfaultfd": 282,
        "perf_event_open": 241}),
}
_X32_BIT = 0x40000000  # x86_64's x32 ABI: the same calls under other numbers, refused as a whole


def limit_resources(cpu_s: int | None, memory_bytes: int) -> None:
    """cpu_s None: no CPU limit (a runner serving many checks, each ended by the grader's wall clock)."""
    limits = [(resource.RLIMIT_AS, memory_bytes, memory_bytes), (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT, FILE_SIZE_LIMIT),
              (resource.RLIMIT_CORE, 0, 0), (resource.RLIMIT_NOFILE, 256, 256)]
    if cpu_s is not None:
        limits.append((resource.RLIMIT_CPU, cpu_s, cpu_s + 1))
    for res, soft, hard in limits:
        resource.setrlimit(res, (soft, hard))


def _filter(arch: int, denied: list[int], x32: bool) -> bytes:
    """Classic BPF: wrong architecture -> kill; a denied number -> EPERM; anything else -> allow."""
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    kill, allow, eperm = 0x80000000, 0x7FFF0000, 0x00050000 | errno.EPERM
    prog = [(ld_abs, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, kill), (ld_abs, 0, 0, 0)]
    checks = ([(jge, 0, 0, _X32_BIT)] if x32 else []) + [(jeq, 0, 0, nr) for nr in denied]
    n = len(checks)
    for i, (code, _, _, k) in enumerate(checks):  # jump over the rest and the allow to the EPERM
        prog.append((code, n - i, 0, k))
    prog += [(ret, 0, 0, allow), (ret, 0, 0, eperm)]
    return b"".join(struct.pack("HBBI", *ins) for ins in prog)


def deny_syscalls() -> bool:
    """Install the seccomp filter; False where the kernel or architecture does not support it."""
    uname = os.uname()  # not platform.machine(): importing platform costs each check a few ms
    arch = uname.machine
    if arch not in _DENIED or uname.sysname != "Linux":
        return False
    audit_arch, numbers = _DENIED[arch]
    code = _filter(audit_arch, sorted(set(numbers.values())), x32=arch == "x86_64")
    buf = ctypes.create_string_buffer(code, len(code))

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Program(len(code) // 8, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(38, 1, None, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, required for an unprivileged filter
        return False
    return libc.prctl(22, 2, ctypes.byref(prog), 0, 0) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER


def guard_files(root: str) -> None:
    """No write, remove or rename outside `root` through Python's file API (the fallback's fence)."""
    import builtins
    import io
    import posix

    import _io

    realpath, join, readlink = os.path.realpath, os.path.join, os.readlink

    def check(path, dir_fd=None):
        if isinstance(path, int):
            return
        path = os.fsdecode(path)
        if dir_fd is not None:
            path = join(readlink(f"/proc/self/fd/{dir_fd}"), path)
        path = realpath(path)
        if path not in (root, os.devnull) and not path.startswith(root + "/"):
            raise PermissionError(f"outside the sandbox directory: {path!r}")

    def guard(fn, paths):
        def guarded(*a, **k):
            for p in a[:paths]:
                check(p, k.get("dir_fd", k.get("src_dir_fd")))
            return fn(*a, **k)
        return guarded

    real_open, real_os_open = io.open, os.open

    def open_(file, mode="r", *a, **k):
        if any(c in mode for c in "wax+"):
            check(file)
        return real_open(file, mode, *a, **k)

    def os_open(path, flags, *a, **k):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
            check(path, k.get("dir_fd"))
        return real_os_open(path, flags, *a, **k)

    class FileIO(io.FileIO):
        def __init__(self, file, mode="r", *a, **k):
            if any(c in mode for c in "wax+"):
                check(file)
            super().__init__(file, mode, *a, **k)

    builtins.open = io.open = _io.open = open_
    io.FileIO = _io.FileIO = FileIO
    for mod in (os, posix):
        mod.open = os_open
        for name, n in (("remove", 1), ("unlink", 1), ("rmdir", 1), ("mkdir", 1), ("truncate", 1),
                        ("chmod", 1), ("chown", 1), ("lchown", 1), ("utime", 1), ("mkfifo", 1),
                        ("mknod", 1), ("rename", 2), ("replace", 2), ("link", 2), ("symlink", 2)):
            if hasattr(mod, name):
                setattr(mod, name, guard(getattr(posix, name), n))
