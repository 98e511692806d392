"""`imaging-ai`: the one entry point for every operational command.

`main` parses the command line (`main.py`); each group of commands registers its own sub-commands:
the server and the worker (`server.py`), the database's and the API's schema (`schema.py`), model
versions (`models.py`), accounts (`accounts.py`) and API keys (`api_keys.py`). Commands open the
database through `database.py` and print the API's schemas (`views.py`).
"""

from imaging_ai.cli.main import build_parser, main
from imaging_ai.cli.server import uvicorn_options

__all__ = ["build_parser", "main", "uvicorn_options"]
