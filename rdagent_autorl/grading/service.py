"""The grading API agents use: a thin FastAPI layer over `GradingRun`.

    POST /submit {"model_path": ..., "gpu": ..., "final": false}
                                                   score a checkpoint from the run's output/ on the selection
                                                   part; final=true also declares it the run's final model
    GET  /health                                   task, workspace, devices
    GET  /time                                     start, timeout, remaining
    GET  /submissions                              every recorded submission
    GET  /baseline                                 the base model's score (computed once, cached)
The OpenAPI schema is at /openapi.json.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import Annotated

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from rdagent_autorl.grading.run import MAX_PATH_CHARS, GradingRun, Submission, SubmissionError


_BAD_PATH_ERRNOS = {errno.ENAMETOOLONG, errno.ELOOP, errno.ENOENT, errno.ENOTDIR, errno.EINVAL}


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_path: str = Field(max_length=MAX_PATH_CHARS)  # a 1 MB path is refused before anything reads it
    gpu: Annotated[str, Field(max_length=64)] | int | None = None
    # Declare this checkpoint the one the run's final grade takes (default: the best selection score).
    final: bool = False


def create_app(run: GradingRun) -> FastAPI:
    app = FastAPI(title="rdagent-autorl grader", description=f"Grading service for task {run.task.id}")

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default answer echoes each bad input back ("input"): a 1 MB path would come back whole.
        errors = [{"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    # Plain `def` endpoints: FastAPI runs them in its thread pool, so a long evaluation on one device
    # does not block /health, /time or a submission to another device.
    @app.post("/submit", response_model=Submission)
    def submit(request: SubmitRequest) -> Submission:
        try:
            return run.submit(request.model_path, None if request.gpu is None else str(request.gpu), request.final)
        except SubmissionError as exc:
            raise HTTPException(status_code=exc.status, detail=exc.reason) from exc
        except OSError as exc:  # a backstop: a path the OS will not take is the request's fault, not a 500
            if exc.errno not in _BAD_PATH_ERRNOS:
                raise
            raise HTTPException(status_code=400, detail=f"model_path cannot be used: {exc.strerror}") from exc

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
