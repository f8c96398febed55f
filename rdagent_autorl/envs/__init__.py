"""Game environments (ALFWorld) played by agents and the grader."""
