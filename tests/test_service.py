"""The grading API over HTTP: in-process with TestClient, and a real `serve` process killed mid-run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import free_port
from rdagent_autorl.grading.run import SCORES, GradingRun
from rdagent_autorl.grading.service import create_app


@pytest.fixture()
def client_and_run(tiny_model, math_task_dir, tmp_path):
    run = GradingRun.open(tmp_path / "ws", task=str(math_task_dir), base_model=str(tiny_model), timeout_s=600)
    shutil.copytree(tiny_model, run.output_dir / "v1")
    return TestClient(create_app(run)), run


def test_health_time_openapi(client_and_run):
    client, run = client_and_run
    health = client.get("/health").json()
    assert health["task"] == "mini-math" and health["workspace"] == str(run.workspace) and health["devices"] == ["cpu"]
    t = client.get("/time").json()
    assert t["timeout_s"] == 600 and 0 < t["remaining_s"] <= 600
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/submit", "/health", "/time", "/submissions", "/baseline"} <= set(paths)


def test_submit_happy_path_and_listing(client_and_run):
    client, run = client_and_run
    r = client.post("/submit", json={"model_path": "output/v1"})
    assert r.status_code == 200, r.text
    body = r.json()
    for key in ("id", "score", "ci_low", "ci_high", "baseline_score", "improvement", "best_so_far", "total_submissions"):
        assert key in body
    assert body["copied_base_model"] is True and body["total_submissions"] == 1
    assert client.get("/baseline").json()["score"] == body["baseline_score"]
    assert [s["id"] for s in client.get("/submissions").json()] == [body["id"]]


@pytest.mark.parametrize(
    "payload, status",
    [({"model_path": "/etc"}, 403), ({"model_path": "output/../../x"}, 403), ({"model_path": "output/nope"}, 404),
     ({"model_path": "output/v1\u0000"}, 400), ({"model_path": "output/v1", "gpu": 7}, 400), ({}, 422),
     ({"model_path": 5}, 422), ({"model_path": "output/v1", "extra": 1}, 422), ({"model_path": "output"}, 422)],
)
def test_bad_requests_get_4xx_with_a_reason(client_and_run, payload, status):
    client, run = client_and_run
    r = client.post("/submit", json=payload)
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    assert not (run.workspace / SCORES).exists()


def test_malformed_json_body(client_and_run):
    client, _ = client_and_run
    r = client.post("/submit", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_killed_server_loses_no_recorded_submission(tiny_model, math_task_dir, tmp_path):
    """A real `serve` process: submit, SIGKILL it, restart it on the same workspace, nothing lost."""
    ws = tmp_path / "ws"
    port = free_port()
    cmd = [sys.executable, "-m", "rdagent_autorl", "serve", "--task", str(math_task_dir), "--workspace", str(ws),
           "--model", str(tiny_model), "--port", str(port), "--timeout", "600"]

    def start():
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                time.sleep(0.2)
        proc.kill()
        pytest.fail(f"server did not start: {proc.stderr.read().decode()[-2000:]}")

    proc = start()
    try:
        shutil.copytree(tiny_model, ws / "output" / "v1")
        r = httpx.post(f"http://127.0.0.1:{port}/submit", json={"model_path": str(ws / "output" / "v1")}, timeout=300)
        assert r.status_code == 200, r.text
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        recorded = [json.loads(x) for x in (ws / SCORES).read_text().splitlines()]
        assert [x["id"] for x in recorded] == ["sub-0001"] and recorded[0]["score"] == r.json()["score"]
        start_time = json.loads((ws / "run_meta.json").read_text())["start"]

        proc = start()
        listed = httpx.get(f"http://127.0.0.1:{port}/submissions", timeout=10).json()
        assert [x["id"] for x in listed] == ["sub-0001"]
        assert httpx.get(f"http://127.0.0.1:{port}/time", timeout=10).json()["start"] == start_time
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
