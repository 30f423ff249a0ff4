"""Export: one module per artifact format, registered by name (imports as `edgeship.export`)."""
