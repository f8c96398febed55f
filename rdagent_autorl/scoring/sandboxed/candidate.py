"""The untrusted side of a code check: loads the model's program and answers calls of its function.

Started by code_exec (in bubblewrap where available), stdin/stdout are the channel to the test
runner, one JSON line per message; the program's own output goes to stderr (a file the grader
bounds). It never sees the tests or the expected values: it only answers "call f(args)" with the
plain value f returned, so the most a hostile program can do is choose its answers.
argv: sandbox kind, CPU seconds, memory MB, and the sandbox tag (for finding leftovers).
"""

import builtins
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out

import confine  # noqa: E402
import plain_values  # noqa: E402


def main() -> None:
    kind, cpu_s, memory_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    requests, replies = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb", buffering=0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)  # print() in the program lands in the output file, never on the channel
    os.close(null)
    job = json.loads(requests.readline())

    def reply(message: dict) -> None:
        replies.write((json.dumps(message) + "\n").encode())

    confine.limit_resources(cpu_s, memory_mb << 20)
    if not confine.deny_syscalls():
        print("sandbox: seccomp filter not available here", file=sys.stderr)
    if kind == "guards":
        confine.guard_files(os.getcwd())
    for name in ("ctypes", "_ctypes", "resource"):  # nothing left in reach that the program needs
        sys.modules[name] = None
    sys.argv = ["program.py"]
    scope = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(job["program"], "program.py", "exec"), scope)
        function = scope[job["entry_point"]]
    except BaseException as e:
        import traceback  # here, not at start: most checks never need it
        traceback.print_exc(limit=-3)
        reply({"load_error": f"{type(e).__name__}: {str(e)[:300]}"})
        os._exit(0)
    reply({"ready": True})
    for line in requests:
        call = json.loads(line)
        try:
            value = function(*plain_values.loads(call["args"]), **plain_values.loads(call["kwargs"]))
        except BaseException as e:  # SystemExit included: leaving early is an answer of its own
            import traceback  # here, not at start: most checks never need it
            traceback.print_exc(limit=-3)
            reply({"raised": type(e).__name__, "message": str(e)[:300]})
            continue
        try:
            reply({"value": plain_values.dumps(value)})
        except (plain_values.NotPlain, ValueError, RecursionError) as e:
            reply({"raised": "NotPlain", "message": str(e)[:300]})
    sys.stdout.flush()
    os._exit(0)  # skip atexit handlers the program may have registered


if __name__ == "__main__":
    main()
