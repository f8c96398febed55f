"""Settings: AUTORL_ prefix, environment and .env, and every field documented in .env.example."""

from __future__ import annotations

from pathlib import Path

from rdagent_autorl.settings import AutoRLSettings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_in_env_example():
    text = (ROOT / ".env.example").read_text()
    missing = [f"AUTORL_{name.upper()}" for name in AutoRLSettings.model_fields if f"AUTORL_{name.upper()}=" not in text]
    assert not missing, f"undocumented in .env.example: {missing}"
    from rdagent_autorl.rdloop.conf import AutoRLPropSetting

    loop_fields = set(AutoRLPropSetting.model_fields) - set(AutoRLPropSetting.__mro__[1].model_fields)
    missing = [f"AUTORL_LOOP_{name.upper()}" for name in loop_fields if f"AUTORL_LOOP_{name.upper()}=" not in text]
    assert loop_fields and not missing, f"undocumented in .env.example: {missing}"
    for driver in ("CHAT_MODEL=", "OPENAI_API_KEY=", "OPENAI_API_BASE=", "LITELLM_LOCAL_MODEL_COST_MAP=True"):
        assert driver in text


def test_environment_and_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("AUTORL_GRADER_PORT=9999\nAUTORL_BACKEND=vllm\nAUTORL_HOME=/tmp/x\n")
    monkeypatch.delenv("AUTORL_HOME", raising=False)
    monkeypatch.setenv("AUTORL_BACKEND", "openai")  # the environment wins over .env
    s = AutoRLSettings()
    assert (s.grader_port, s.backend, s.home_dir, s.cache_path) == (9999, "openai", Path("/tmp/x"), Path("/tmp/x/cache"))


def test_invalid_setting_is_rejected(monkeypatch):
    import pytest
    from pydantic import ValidationError

    monkeypatch.setenv("AUTORL_BACKEND", "tgi")
    with pytest.raises(ValidationError, match="backend"):
        AutoRLSettings()


def test_no_judge_by_default_and_its_key_stays_out_of_repr(monkeypatch):
    for name in ("JUDGE_BACKEND", "JUDGE_BASE_URL", "JUDGE_MODEL", "JUDGE_API_KEY"):
        monkeypatch.delenv(f"AUTORL_{name}", raising=False)
    s = AutoRLSettings(_env_file=None)
    assert (s.judge_backend, s.judge_model, s.judge_api_key, s.judge_temperature) == ("openai", "", "", 0.0)
    monkeypatch.setenv("AUTORL_JUDGE_API_KEY", "sk-secret-judge")
    monkeypatch.setenv("AUTORL_OPENAI_API_KEY", "sk-secret-policy")
    s = AutoRLSettings(_env_file=None)
    assert s.judge_api_key == "sk-secret-judge" and "sk-secret" not in repr(s)
