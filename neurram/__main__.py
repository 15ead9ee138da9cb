"""``python -m neurram`` is the ``neurram`` command."""

from neurram.runtime.cli import main

main()
