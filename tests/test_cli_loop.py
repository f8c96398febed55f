"""`rdagent autorl --task ...` as a user runs it: the driver configured only through `.env`, talking to
a FAKE OpenAI-compatible driver endpoint on 127.0.0.1 (streaming, as litellm asks by default), and
the API key planted in `.env` never written anywhere in the run."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

import fake_drivers
from conftest import RDAGENT, clean_env, serve_in_thread
from rdagent_autorl.rdloop.scripted_driver import scripted_answer

pytestmark = pytest.mark.timeout(1800)  # a hang guard only: a busy machine may take several times longer


def fake_driver_endpoint(requests: list) -> FastAPI:
    """FAKE driver LLM over HTTP: OpenAI chat completions (SSE when stream=true) answered by the scripted plan."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        requests.append({"body": body, "authorization": request.headers.get("authorization", "")})
        system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
        text = scripted_answer(system, body["messages"][-1]["content"], fake_drivers.FAST_PLAN)
        base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            return {**base, "object": "chat.completion", "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]}

        def events():
            for i in range(0, len(text), 200):
                chunk = {**base, "object": "chat.completion.chunk",
                         "choices": [{"index": 0, "delta": {"content": text[i:i + 200]}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
            last = {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(last)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@pytest.fixture()
def driver_endpoint():
    requests: list = []
    with serve_in_thread(fake_driver_endpoint(requests)) as url:
        yield f"{url}/v1", requests


def test_without_a_driver_and_without_smoke_it_stops_at_once_about_env(tmp_path):
    proc = subprocess.run([RDAGENT, "autorl", "--task", "gsm8k-rule"], cwd=tmp_path, env=clean_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "no driver LLM is configured" in proc.stderr and ".env" in proc.stderr and "CHAT_MODEL" in proc.stderr
    assert "--smoke" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_env_configured_driver_runs_a_loop_and_never_writes_the_key(tmp_path, driver_endpoint, _isolated_env, tiny_model):
    url, requests = driver_endpoint
    key = f"sk-planted-{uuid.uuid4().hex}"
    (tmp_path / ".env").write_text(f"CHAT_MODEL=openai/fake-driver\nOPENAI_API_BASE={url}\nOPENAI_API_KEY={key}\n")
    proc = subprocess.run(
        [RDAGENT, "autorl", "--task", "gsm8k-rule", "--model", "tiny", "--data", "synthetic", "--limit", "8",
         "--loop-n", "1", "--timeout", "15m"], cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "driver openai/fake-driver" in proc.stdout and "loop 0: SFT warm-up" in proc.stdout
    assert "SCRIPTED DRIVER" not in proc.stderr
    # The driver was reached through .env: the model name, the key in the header, streaming on.
    assert {r["body"]["model"] for r in requests} == {"fake-driver"}
    assert all(r["authorization"] == f"Bearer {key}" for r in requests) and all(r["body"].get("stream") for r in requests)
    assert len(requests) == 3  # proposal, coder, feedback
    run_dir = Path(next(line.split(": ", 1)[1] for line in proc.stderr.splitlines() if line.startswith("run folder: ")))
    board = json.loads((run_dir / "scoreboard.json").read_text())
    assert board["driver"] == "openai/fake-driver" and board["loops"][0]["score"] is not None
    # The planted key appears nowhere: not in the console, nor in any file of the run (logs, pickles, JSON).
    assert key not in proc.stdout and key not in proc.stderr
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".pkl" for p in files) and (run_dir / "rdagent.log").exists()
    leaks = [p for p in files if key.encode() in p.read_bytes()]
    assert leaks == []
    # The settings dump is still in the trace, masked.
    assert "LITELLM_SETTINGS" in {p.parent.parent.name for p in files}


def test_ui_refuses_a_missing_run_folder(tmp_path):
    proc = subprocess.run([RDAGENT, "autorl", "ui", str(tmp_path / "nope")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "is not a folder" in proc.stderr


def test_ui_serves_rdagents_trace_viewer_from_the_run_folder(tmp_path):
    import httpx

    from conftest import free_port

    port = free_port()
    proc = subprocess.Popen([RDAGENT, "autorl", "ui", str(tmp_path), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("the trace viewer did not start")
        assert "Streamlit" in httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)


@pytest.mark.slow
def test_smoke_command_runs_two_loops_and_beats_the_baseline(tmp_path, _isolated_env):
    """The README's main job, exactly: scripted driver (no LLM configured), tiny model, smoke data, CPU."""
    proc = subprocess.run([RDAGENT, "autorl", "--task", "gsm8k-rule", "--smoke"], cwd=tmp_path, env=clean_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SCRIPTED DRIVER" in proc.stderr
    run_dir = Path(next(line.split(": ", 1)[1] for line in proc.stderr.splitlines() if line.startswith("run folder: ")))
    board = json.loads((run_dir / "scoreboard.json").read_text())
    assert len(board["loops"]) == 2 and board["driver"] == "scripted"
    assert board["best"]["score"] > board["baseline"]["score"]
    # The run's score: the best loop's checkpoint once on the final part (200 problems no submission saw)
    assert board["final"]["available"] and board["final"]["n"] == 200 and board["final"]["declared"] is False
    assert "final: " in proc.stdout and "on the held-out final part" in proc.stdout


def test_a_busy_grader_port_is_a_clear_error(tmp_path, tiny_model):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([RDAGENT, "autorl", "--task", "gsm8k-rule", "--smoke", "--port", str(port)], cwd=tmp_path,
                              env=clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and f"cannot start the grader on 127.0.0.1:{port}" in proc.stderr
