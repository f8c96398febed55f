"""Console entry points.

rdagent 1.0.0 has no plugin discovery, so this package installs its own `rdagent` script: it
serves `rdagent autorl ...` directly (without importing rdagent's CLI, which takes 8-15 s) and hands
every other command to rdagent's own Typer app with `autorl` added, so `rdagent --help` lists both.
"""

from __future__ import annotations

import os
import sys


def _load_dotenv() -> None:
    # rdagent's CLI loads ./.env before anything reads settings; the fast path must do the same.
    from dotenv import load_dotenv

    load_dotenv(".env")


def autorl_main(prog_name: str = "rdagent-autorl") -> None:
    _load_dotenv()
    # litellm (under rdagent's LLM backend) would otherwise download its price list at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from rdagent_autorl.cli.app import app

    app(prog_name=prog_name)


def rdagent_main() -> None:
    if sys.argv[1:2] == ["autorl"]:
        del sys.argv[1]
        autorl_main(prog_name="rdagent autorl")
        return
    from rdagent.app.cli import app as rdagent_app  # loads .env itself

    from rdagent_autorl.cli.app import app as autorl_app

    rdagent_app.add_typer(autorl_app, name="autorl")
    rdagent_app()
