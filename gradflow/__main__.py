"""``python -m gradflow``: the ``gradflow`` command line (see :mod:`gradflow.cli`)."""

from gradflow.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
