"""Grading: score a checkpoint on a task's held-out data (`evaluate`), and the grading service."""
