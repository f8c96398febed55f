"""`rdagent autorl --task ...` and `rdagent autorl ui`: the command-line side of the RD-Agent loop
(choosing defaults and the driver, clear errors); the run itself is rdagent_autorl/rdloop/session.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from rdagent_autorl.cli.common import fail, run_defaults

NO_DRIVER = (
    "no driver LLM is configured. Put one in .env (see .env.example), e.g.\n"
    "  CHAT_MODEL=openai/gpt-4o-mini\n  OPENAI_API_KEY=sk-...\n  # OPENAI_API_BASE=http://localhost:8000/v1 for a local server\n"
    "or try the loop offline with a scripted driver: rdagent autorl --task gsm8k-rule --smoke"
)
SCRIPTED_BANNER = (
    "*** SCRIPTED DRIVER: no driver LLM is configured, so this --smoke run follows a fixed plan of experiments\n"
    "*** (a fake at the LLM boundary; see rdagent_autorl/rdloop/scripted_driver.py). Configure CHAT_MODEL in .env\n"
    "*** to let an LLM drive the loop."
)


def run_loop_command(*, task, model, loop_n, timeout, smoke, resume, data, gpus, limit, port) -> None:
    from rdagent_autorl.grading.service import GraderStartError
    from rdagent_autorl.models.resolve import ModelError
    from rdagent_autorl.run.driver_name import RDAGENT_CHAT_VARS, SCRIPTED, driver_name
    from rdagent_autorl.run.harness import RunError
    from rdagent_autorl.settings import get_settings
    from rdagent_autorl.tasks import TaskError

    driver = driver_name(chat_vars=RDAGENT_CHAT_VARS, fallback=SCRIPTED if smoke else None)
    if driver is None:
        fail(NO_DRIVER)
    if driver == SCRIPTED:
        typer.secho(SCRIPTED_BANNER, fg=typer.colors.YELLOW, err=True)

    from rdagent_autorl.rdloop import session
    from rdagent_autorl.rdloop.driver import DriverError

    ctx = None
    try:
        if resume is not None:
            ctx, run, session_path = session.resume_run(resume, driver)
        else:
            from rdagent_autorl.run.harness import RUNS_FOLDER
            from rdagent_autorl.tasks import get_task

            d = run_defaults(get_task(task), smoke=smoke, model=model, data=data, timeout=timeout, gpus=gpus,
                             loop_n=loop_n)
            ctx, run = session.new_run(task, d.model, data=d.data, gpus=d.gpus, loop_n=d.loop_n, timeout_s=d.timeout_s,
                                       smoke=smoke, driver=driver, limit=limit,
                                       runs_dir=get_settings().home_dir / RUNS_FOLDER["loop"])
            session_path = None
        typer.echo(f"run folder: {ctx.run_dir}", err=True)
        board = session.execute(ctx, run, session=session_path, port=port)
    except (TaskError, ModelError, RunError, GraderStartError) as exc:
        fail(str(exc))
    except DriverError as exc:
        fail(f"{exc}\nthe run is saved; continue it with: rdagent autorl --resume {ctx.run_dir}", code=1)
    except KeyboardInterrupt:
        fail(f"interrupted; continue with: rdagent autorl --resume {ctx.run_dir}" if ctx else "interrupted", code=130)
    typer.echo(session.format_scoreboard(board))


def run_ui(run: Path | None, port: int, bench: bool = False) -> None:
    """RD-Agent's RL trace viewer, started where its path rules work: it only accepts paths relative to
    RL_LOG_PATH (an absolute path is refused as "outside of allowed root"), so it runs with RL_LOG_PATH=.
    in the run folder (Single Task view: Log Folder ".", session "trace"). --bench: our dashboard."""
    import importlib.util

    from rdagent_autorl.settings import get_settings

    if bench:
        app, folder = importlib.util.find_spec("rdagent_autorl.bench.dashboard").origin, Path.cwd()
        typer.echo(f"benchmark dashboard on http://localhost:{port}", err=True)
    else:
        folder = (run or get_settings().home_dir / "runs").expanduser().resolve()
        if not folder.is_dir():
            fail(f"{folder} is not a folder: pass a run folder printed by `rdagent autorl --task ...`")
        app = importlib.util.find_spec("rdagent.app.rl.ui.app").origin
        typer.echo(f"RL trace viewer for {folder} on http://localhost:{port} (Single Task view; Log Folder '.')", err=True)
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", **os.environ, "RL_LOG_PATH": "."}
    os.chdir(folder)
    # Replace this process (no child left behind when whoever started `ui` stops it).
    os.execve(sys.executable, [sys.executable, "-m", "streamlit", "run", app, "--server.headless", "true",
                               "--server.port", str(port), "--browser.gatherUsageStats", "false"], env)
