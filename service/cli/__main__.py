"""``python -m service.cli``: the ``hopwatch`` command line."""

from service.cli.main import main

main()
