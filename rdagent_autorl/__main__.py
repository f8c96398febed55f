"""`python -m rdagent_autorl ...` is `rdagent autorl ...`."""

from rdagent_autorl.cli.entry import autorl_main

autorl_main(prog_name="python -m rdagent_autorl")
