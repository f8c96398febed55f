"""The RD-Agent scenario: RD-Agent's loop (proposal -> coder -> runner -> feedback) post-trains a task's
base model with this project's templates, grader and workspace.

Modules are named after RD-Agent's loop components: `conf` (the `BasePropSetting` with their import
paths, and the run context), `scenario`, `proposal`, `coder`, `runner`, `feedback`, `loop`; `session`
sets a run up and tears it down; `driver` is the one way the components talk to the driver LLM.
Importing this package imports rdagent: keep it out of the CLI's fast paths.
"""
