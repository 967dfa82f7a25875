"""``python -m ssgateway.cli``: the command line."""

from ssgateway.cli import main

main()
