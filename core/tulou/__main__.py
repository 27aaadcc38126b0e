"""``python -m tulou`` is the ``tulou`` command."""

from tulou.cli import main

main()
