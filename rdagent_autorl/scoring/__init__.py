"""Scorers shared by tasks: each turns (samples, completions) into graded `ScoredSample`s."""
