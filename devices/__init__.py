"""Devices: where artifacts run and are benchmarked (imports as `edgeship.devices`)."""
