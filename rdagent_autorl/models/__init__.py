"""Model checkpoints the benchmark starts from: a locally built tiny model, local folders, GGUF files, hub ids."""
