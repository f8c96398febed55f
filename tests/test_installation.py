"""The installation key and the signed grade cache: an entry the harness did not write is never trusted."""

from __future__ import annotations

import json
import stat

from rdagent_autorl.grading.evaluate import _cache_file, evaluate, make_config, model_key
from rdagent_autorl.installation import KEY_FILE, installation_key, sign, verify
from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks import get_task


def test_the_key_is_made_once_private_and_signs():
    key = installation_key()
    path = get_settings().home_dir / KEY_FILE
    assert len(key) == 32 and path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert verify(b"payload", sign(b"payload"))
    assert not verify(b"payload!", sign(b"payload")) and not verify(b"payload", "0" * 64)


def test_a_forged_or_unsigned_cache_entry_is_ignored_and_graded_again(tiny_model, math_task_dir, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("AUTORL_CACHE_DIR", str(tmp_path / "cache"))  # this test's own cache, not the session's
    get_settings.cache_clear()
    task = get_task(str(math_task_dir))
    config = make_config(task, "hf")
    first = evaluate(task, tiny_model, config, out_dir=tmp_path)
    cache = _cache_file(config, model_key(config, tiny_model))
    entry = json.loads(cache.read_text())
    assert set(entry) == {"result", "hmac"}
    assert evaluate(task, tiny_model, config).cached  # the harness's own entry is trusted

    # An agent that found the cache writes a perfect score: without the key its signature cannot match.
    forged = {**entry, "result": {**entry["result"], "score": 100.0, "ci_low": 100.0, "ci_high": 100.0}}
    cache.write_text(json.dumps(forged))
    regraded = evaluate(task, tiny_model, config, out_dir=tmp_path)
    assert not regraded.cached and regraded.score == first.score

    # An unsigned entry in the old shape (a bare result) is not trusted either.
    cache.write_text(json.dumps({**entry["result"], "score": 100.0}))
    assert evaluate(task, tiny_model, config, out_dir=tmp_path).score == first.score
