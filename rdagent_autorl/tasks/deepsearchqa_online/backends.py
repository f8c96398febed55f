"""The run's search backend, from the settings: the grader's, and the one written into each workspace
(`env/search.json`), so agents and the grader search the same way within a run.

Query caches (web backends only; `local` is deterministic): the grader's lives in the autorl cache
(`deepsearchqa/queries/<backend>-grader.jsonl`), an agent's in its workspace (`search_cache/<backend>.jsonl`),
never shared: the grader's queries come from held-out questions, which agents must not see.
"""

from __future__ import annotations

import json
from pathlib import Path

from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks.deepsearchqa_online import corpus, search
from rdagent_autorl.types import TaskError


def backend_name() -> str:
    return get_settings().deepsearch_backend


def grader_cache_file() -> Path:
    return get_settings().cache_path / "deepsearchqa" / "queries" / f"{backend_name()}-grader.jsonl"


def search_config(cache_file: Path | None) -> dict:
    """What env/search.json holds: the backend, its index (local) and its query cache (web)."""
    name = backend_name()
    config: dict = {"backend": name}
    if name == "local":
        config["index_folder"] = str(corpus.collection_folder())
    elif cache_file is not None:
        config["cache_file"] = str(cache_file)
    return config


def configured_backend(cache_file: Path | None = None):
    """The settings' backend, ready to answer; a clear TaskError when it cannot be used."""
    config = search_config(cache_file)
    try:
        return search.make_backend(config["backend"], index_folder=config.get("index_folder"),
                                   cache_file=config.get("cache_file"))
    except search.SearchUnavailable as e:
        raise TaskError(f"deepsearchqa-online: search backend '{config['backend']}' (AUTORL_DEEPSEARCH_BACKEND) "
                        f"is not usable: {e}") from e


def checked_backend(cache_file: Path | None = None):
    """The backend after one probe query: an unreachable API fails here, before any run starts."""
    backend = configured_backend(cache_file)
    try:
        backend.probe()
    except search.SearchUnavailable as e:
        raise TaskError(f"deepsearchqa-online: search backend '{backend.name}' is not reachable: {e}") from e
    return backend


def write_workspace_config(workspace: Path) -> Path:
    """env/search.json for the workspace's copy of the environment (after probing the backend once)."""
    cache = workspace / "search_cache" / f"{backend_name()}.jsonl"
    checked_backend(cache if backend_name() != "local" else None)
    path = workspace / "env" / "search.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    config = search_config(cache)
    if "index_folder" in config:  # the workspace links to the collection: what the agent sandbox mounts
        link = workspace / "data" / "collection"
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(Path(config["index_folder"]).resolve(), target_is_directory=True)
        config["index_folder"] = str(link)
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path
