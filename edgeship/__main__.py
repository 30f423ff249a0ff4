"""`python -m edgeship` runs the CLI."""

from edgeship.cli import main

main()
