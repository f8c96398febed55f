"""What a benchmark run leaves and how it is read: the agents' declarations (agents.py), the code
recorder (recorder.py), the typed run files (run_record.py, run_data.py), the report and its figures,
the ledger and the dashboard. The run harness that produces all of it is rdagent_autorl/run/harness.py."""
