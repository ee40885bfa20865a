"""Models built from the core ops (filled by the models issue)."""
