"""``python -m webmap`` is the ``carte`` command (the demo starts its watcher this way)."""

from .cli import main

main()
