"""Runtimes: one Session interface over the inference engines (imports as `edgeship.runtimes`)."""
