"""``python -m kgtwin``: the command line, for processes started without the console script."""

from kgtwin.cli import main

main()
