"""`python -m turnscope.cli`: the same as the `turnscope` command."""

from turnscope.cli import main

main()
