"""The application file for ``spark-submit``: the ``creditgate`` CLI, arguments unchanged.

``spark-submit path/to/creditgate/submit/creditgate_main.py batch ... --engine spark``. It
lives in a directory of its own because Python puts a script's directory first on
``sys.path``: run as a script, ``creditgate/cli/main.py`` would shadow the standard library
with its neighbours (``token.py``) and fail to import.
"""

from creditgate.cli.main import app

if __name__ == "__main__":
    app(prog_name="creditgate")
