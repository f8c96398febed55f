"""A run: an isolated workspace, its grading service, and the agent that works in it."""
