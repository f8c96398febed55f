"""The trusted side of a code check: runs the problem's own tests against the sandboxed program.

The tests (and the prompt's helpers they use, e.g. HumanEval/32's `poly`) run here, never in the
program's process; `candidate` is a proxy that sends each call to the program and rebuilds the
answer as a fresh plain value (type-strict), so neither an object with a rigged `__eq__` nor a
program that reads the test's source can pass. The verdict goes to this process's stdout, a file
the program cannot reach, tagged with a nonce it never sees.
argv: request fd, reply fd, CPU seconds, memory MB, the sandbox tag. stdin: the job as JSON.
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


def main() -> None:
    to_program, from_program = os.fdopen(int(sys.argv[1]), "wb", buffering=0), os.fdopen(int(sys.argv[2]), "rb")
    cpu_s, memory_mb = int(sys.argv[3]), int(sys.argv[4])
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no /proc/<pid>/fd or mem for others
    confine.limit_resources(cpu_s, memory_mb << 20)
    job = json.loads(sys.stdin.read())
    nonce = job["nonce"]

    def verdict(status: str, why: str = "") -> None:
        sys.stdout.write(f"\n{nonce}:{status}:{' '.join(why.split())[:300]}\n")
        sys.stdout.flush()
        os._exit(0)

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
        verdict("error", f"the program did not start: {e}")
    if "load_error" in hello:
        verdict("error", hello["load_error"])
    scope = {"__name__": "__main__"}
    exec(compile(job["prompt"], "prompt.py", "exec"), scope)
    scope[job["entry_point"]] = candidate  # tests that name the function (HumanEval/33) call the program too
    exec(compile(job["test"], "test.py", "exec"), scope)
    try:
        scope["check"](candidate)
    except AssertionError:
        import traceback  # here, not at start: most checks never need it
        sys.stderr.write(traceback.format_exc(limit=-2)[-1500:])
        verdict("failed", "AssertionError in the tests")
    except CandidateFailed as e:
        verdict("error", str(e))
    except BaseException as e:  # the tests choked on an answer (wrong type, too large...)
        import traceback  # here, not at start: most checks never need it
        sys.stderr.write(traceback.format_exc(limit=-2)[-1500:])
        verdict("error", f"{type(e).__name__} in the tests: {str(e)[:200]}")
    verdict("passed")


if __name__ == "__main__":
    main()
