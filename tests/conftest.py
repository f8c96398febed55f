"""Test-wide setup: offline, an isolated AUTORL_HOME, and small shared fixtures.

The tiny model is built once per session (it is the project's own embedded default, not a fake).
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

# Before any test module is imported: litellm (imported with rdagent's LLM backend) otherwise tries to
# download its model price list at import time, with retries and sleeps.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# The installed `rdagent` command (this package's entry point), for tests that run the CLI as users do.
RDAGENT = str(Path(sys.executable).parent / "rdagent")
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
               "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="session", autouse=True)
def _isolated_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("autorl-home")
    # The TEST installation key (public, for tests only; never a real installation's): the synthetic held-out sets
    # are seeded by the installation key (installation.eval_seed), so a fixed one gives every test session, and
    # every subprocess started with this AUTORL_HOME, the same held-out items.
    key = home / "installation.key"
    key.write_bytes(bytes(range(32)))
    key.chmod(0o600)
    saved = dict(os.environ)
    os.environ.update(OFFLINE_ENV)
    os.environ["AUTORL_HOME"] = str(home)
    os.environ["HF_HOME"] = str(tmp_path_factory.mktemp("hf-home"))  # empty cache: nothing leaks in
    from rdagent_autorl.settings import get_settings

    get_settings.cache_clear()
    yield home
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def tiny_model(_isolated_env) -> Path:
    from rdagent_autorl.models.tiny import tiny_model_path

    return tiny_model_path(0)


def perturbed_copy(model_dir: Path, dest: Path, byte: int = -3) -> Path:
    """A copy of a checkpoint with different weights and the same architecture (one byte of the tensor
    data flipped, near the end by default): what a fine-tune looks like to a content hash."""
    import shutil

    shutil.copytree(model_dir, dest)
    data = bytearray((dest / "model.safetensors").read_bytes())
    data[byte] ^= 0x01
    (dest / "model.safetensors").write_bytes(bytes(data))
    return dest


@pytest.fixture()
def math_task_dir(tmp_path) -> Path:
    """A small custom task (math scorer, short generations) so grading tests stay fast."""
    folder = tmp_path / "mini-math"
    folder.mkdir()
    (folder / "task.yaml").write_text(
        "id: mini-math\ntitle: Mini math\nscorer: math\nmax_new_tokens: 8\n"
        "system_prompt: Answer with the number only.\n"
    )
    rows = [{"question": f"What is {a} plus {b}?", "answer": f"{a} + {b} = {a + b}\n#### {a + b}"}
            for a, b in [(1, 2), (3, 4), (5, 6), (7, 8), (2, 2), (9, 1)]]
    (folder / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows[:3]) + "\n")
    (folder / "eval.jsonl").write_text("\n".join(json.dumps(r) for r in rows[3:]) + "\n")
    return folder


@pytest.fixture(autouse=True)
def _fresh_settings():
    """Settings are cached per process; tests that change AUTORL_* env must not leak into others."""
    yield
    from rdagent_autorl.settings import get_settings

    get_settings.cache_clear()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """Serve an ASGI app (a test's fake endpoint) on 127.0.0.1 in a thread; yields its base URL."""
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)



def clean_env() -> dict:
    """The test session's environment without any driver settings (a user's shell before .env)."""
    drop = {"BACKEND", "CHAT_MODEL", "LITELLM_CHAT_MODEL", "OPENAI_API_KEY", "OPENAI_API_BASE"}
    return {k: v for k, v in os.environ.items() if k not in drop}
