"""`rdagent autorl sweep SWEEP.yaml`: a grid of benchmark runs (tasks x agents x drivers x base models x
seeds), each cell one `bench` run executed as a Ray task, and the comparison tables and figures built from
the cells' ledger rows and reports.

    config.py   the sweep file (pydantic: an unknown key or value is an error naming it) and its cells
    engine.py   the cells as Ray tasks: resources, --max-parallel, --resume, the manifest, the live table
    runs.py     a finished cell: its ledger row, its report's metrics, its run folder
    tables.py   the paper's tables from the ledger and the cells' reports (md, csv, html)
    figures.py  improvement per task, score vs time of every seed of a cell, route shares
"""
