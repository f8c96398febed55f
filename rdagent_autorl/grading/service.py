"""The grading API agents use: a thin FastAPI layer over `GradingRun`.

    POST /submit {"model_path": ..., "gpu": ...}   score a checkpoint from the run's output/
    GET  /health                                   task, workspace, devices
    GET  /time                                     start, timeout, remaining
    GET  /submissions                              every recorded submission
    GET  /baseline                                 the base model's score (computed once, cached)
The OpenAPI schema is at /openapi.json.
"""

from __future__ import annotations

import socket
import threading
import time

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict

from rdagent_autorl.grading.run import GradingRun, Submission, SubmissionError


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_path: str
    gpu: str | int | None = None


def create_app(run: GradingRun) -> FastAPI:
    app = FastAPI(title="rdagent-autorl grader", description=f"Grading service for task {run.task.id}")

    # Plain `def` endpoints: FastAPI runs them in its thread pool, so a long evaluation on one device
    # does not block /health, /time or a submission to another device.
    @app.post("/submit", response_model=Submission)
    def submit(request: SubmitRequest) -> Submission:
        try:
            return run.submit(request.model_path, None if request.gpu is None else str(request.gpu))
        except SubmissionError as exc:
            raise HTTPException(status_code=exc.status, detail=exc.reason) from exc

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "task": run.task.id, "workspace": str(run.workspace), "gpus": run.meta.gpus,
                "devices": run.devices, "backend": run.meta.backend, "data_source": run.config.data_source}

    @app.get("/time")
    def time_left() -> dict:
        return run.time_info()

    @app.get("/submissions", response_model=list[Submission])
    def submissions() -> list[Submission]:
        return run.submissions()

    @app.get("/baseline")
    def baseline() -> dict:
        try:
            return run.baseline().model_dump()
        except RuntimeError as exc:
            raise HTTPException(status_code=503, detail=f"the baseline could not be computed: {exc}") from exc

    return app


class GraderStartError(RuntimeError):
    pass


class GraderThread:
    """The run's grading service (FastAPI + uvicorn) in a thread of this process, on a free port."""

    def __init__(self, run, host: str, port: int = 0) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            raise GraderStartError(f"cannot start the grader on {host}:{port}: {exc}") from exc
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(run), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "GraderThread":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise GraderStartError("the grading service did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
