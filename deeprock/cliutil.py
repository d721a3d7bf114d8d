"""What every `deeprock` subcommand shares: the one-line error and opening a catalog to read."""

from __future__ import annotations

import os


class CliError(Exception):
    """Unusable arguments or an unwritable output: reported in one line, exit code 2."""


def open_catalog(path: str):
    """An existing catalog: reading commands never create an empty one by mistake."""
    from deeprock.corpus.catalog import Catalog, CatalogError

    if not os.path.isfile(path):
        raise CliError(f"no catalog at {path}: run deeprock scan DIR --catalog {path} first")
    try:
        return Catalog(path)
    except CatalogError as error:
        raise CliError(str(error)) from error
