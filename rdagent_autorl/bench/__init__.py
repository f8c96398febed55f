"""The benchmark harness: run any agent on a task in an isolated workspace with a budget and the
grader, record every submission and code revision, and report (metrics, figures, ledger)."""
