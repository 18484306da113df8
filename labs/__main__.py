"""`python -m labs ...`: see labs.cli."""

from .cli import main

main(prog_name="python -m labs")
