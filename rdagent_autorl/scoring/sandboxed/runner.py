"""The trusted side of a code check: runs the problem's own tests against the sandboxed program.

The tests (and the prompt's helpers they use, e.g. HumanEval/32's `poly`) run here, never in the
program's process; `candidate` is a proxy that sends each call to the program and rebuilds the
answer as a fresh plain value (type-strict), so neither an object with a rigged `__eq__` nor a
program that reads the test's source can pass. One runner serves many checks (see serve()); the
verdict goes back on its socket to the grader, which the program cannot reach.
argv: the socket's fd, memory MB, the sandbox tag (for finding leftovers).
"""

import ctypes
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import confine  # noqa: E402
import plain_values  # noqa: E402

MAX_REPLY = 8 << 20  # bytes of one answer; more is treated as a broken program


class CandidateFailed(Exception):
    """The program raised, returned a value that is not plain, or broke the channel."""


class Verdict:
    def __init__(self, status: str, why: str = "", output: str = ""):
        self.status, self.why, self.output = status, " ".join(why.split())[:300], output[-1500:]


def check_one(job: dict, to_program, from_program) -> Verdict:
    """Run one job's tests against the program behind the two pipe ends; the verdict."""

    def receive() -> dict:
        line = from_program.readline(MAX_REPLY)
        if not line.endswith(b"\n"):
            raise CandidateFailed("the program ended (or sent an oversized answer) before answering")
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            raise CandidateFailed("the program wrote something that is not an answer") from None
        if type(message) is not dict:
            raise CandidateFailed("the program wrote something that is not an answer")
        return message

    def candidate(*args, **kwargs):
        try:
            to_program.write((json.dumps({"args": plain_values.dumps(args),
                                          "kwargs": plain_values.dumps(kwargs)}) + "\n").encode())
        except BrokenPipeError:
            raise CandidateFailed("the program ended before answering") from None
        answer = receive()
        if "raised" in answer:
            raise CandidateFailed(f"{answer.get('raised')}: {answer.get('message')}")
        try:
            return plain_values.loads(answer["value"])
        except (KeyError, TypeError, ValueError, RecursionError):
            raise CandidateFailed("the program's answer is not a plain value") from None

    try:
        to_program.write((json.dumps({"program": job["program"], "entry_point": job["entry_point"]}) + "\n").encode())
        hello = receive()
    except (BrokenPipeError, CandidateFailed) as e:
        return Verdict("error", f"the program did not start: {e}")
    if "load_error" in hello:
        return Verdict("error", hello["load_error"])
    scope = {"__name__": "__main__"}
    exec(compile(job["prompt"], "prompt.py", "exec"), scope)
    scope[job["entry_point"]] = candidate  # tests that name the function (HumanEval/33) call the program too
    exec(compile(job["test"], "test.py", "exec"), scope)
    try:
        scope["check"](candidate)
    except AssertionError:
        import traceback  # here, not at start: most checks never need it
        return Verdict("failed", "AssertionError in the tests", traceback.format_exc(limit=-2))
    except CandidateFailed as e:
        return Verdict("error", str(e))
    except BaseException as e:  # the tests choked on an answer (wrong type, too large...)
        import traceback
        return Verdict("error", f"{type(e).__name__} in the tests: {str(e)[:200]}", traceback.format_exc(limit=-2))
    return Verdict("passed")


def serve(sock_fd: int, memory_mb: int) -> None:
    """One runner for many checks: each arrives on the socket as a length-prefixed job with the two
    pipe ends to its program (SCM_RIGHTS); the verdict goes back as one JSON line. A check that runs
    past its time is ended by the grader killing this process (a fresh runner takes the next)."""
    import socket

    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
    confine.limit_resources(None, memory_mb << 20)
    sock = socket.socket(fileno=sock_fd)
    while True:
        header, fds, _, _ = socket.recv_fds(sock, 8, 2)
        if len(header) < 8 or len(fds) != 2:
            os._exit(0)  # the grader is done (or gone)
        size, data = int.from_bytes(header, "big"), bytearray()
        while len(data) < size:
            chunk = sock.recv(min(1 << 20, size - len(data)))
            if not chunk:
                os._exit(0)
            data += chunk
        job = json.loads(data)
        with os.fdopen(fds[0], "wb", buffering=0) as to_program, os.fdopen(fds[1], "rb") as from_program:
            v = check_one(job, to_program, from_program)
        sock.sendall((json.dumps({"nonce": job["nonce"], "status": v.status, "why": v.why,
                                  "output": v.output}) + "\n").encode())


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
