"""`flopwise web`: a JSON API and a page with charts, served by one local FastAPI process.

The API returns the same result objects the CLI prints with `--json`; the page (static/) only formats
and draws them. Nothing here reads a path taken from a request: models come from the catalog or from a
config.json pasted into the request body, runs files only from the bundled catalog.
"""

from flopwise.web.app import create_app

__all__ = ["create_app"]
