"""`python -m autograder ...`: see autograder.cli."""

from .cli import main

main(prog_name="python -m autograder")
