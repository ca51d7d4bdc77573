"""Hand a chapter's results to the book: :func:`glue`, without myst-nb.

The chapters compute every number, table and figure they quote and *glue* it under a name; the
book's text pastes it with ``{glue:text}`name``` and ``{glue:figure}`` (myst-nb). myst-nb's own
``myst_nb.glue`` would make the chapters import the whole book tool chain, which a student on
Colab or in a bare download does not have. This :func:`glue` writes the very same output
(a display whose data carry the ``application/papermill.record/`` prefix and whose metadata
name it under ``scrapbook``), so the book reads it as before, and needs nothing but IPython.
In a notebook such an output shows nothing: the plain notebooks of the student repository
carry the values in their text instead (tools/plain_notebooks.py).
"""

from __future__ import annotations

__all__ = ["glue", "GLUE_PREFIX"]

GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value, display: bool = True) -> None:
    """Record ``value`` (its display representations) under ``name`` for the book.

    The same output as ``myst_nb.glue(name, value, display)``.

    Parameters
    ----------
    name : str
        The key the book's ``{glue:...}`` roles and directives refer to.
    value : object
        Anything IPython can display: a number, a string, a matplotlib figure, an
        ``IPython.display.Markdown`` table.
    display : bool
        Also show ``value`` in the notebook (True) or only record it (False).
    """
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipython_display

    if not isinstance(name, str) or not name:
        raise ValueError(f"glue needs a non-empty name (a str), got name={name!r}")
    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipython_display({prefix + mime: data for mime, data in bundle.items()}, raw=True,
                    metadata=metadata)
