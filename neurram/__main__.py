"""``python -m neurram`` is the ``neurram`` command."""

from neurram.cli import main

main()
