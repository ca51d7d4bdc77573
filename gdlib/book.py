"""Hand a chapter's results to the book: :func:`glue` without myst-nb, and the small helpers
every chapter uses around it.

The chapters compute every number, table and figure they quote and *glue* it under a name; the
book's text pastes it with ``{glue:text}`name``` and ``{glue:figure}`` (myst-nb). myst-nb's own
``myst_nb.glue`` would make the chapters import the whole book tool chain, which a student on
Colab or in a bare download does not have. This :func:`glue` writes the very same output
(a display whose data carry the ``application/papermill.record/`` prefix and whose metadata
name it under ``scrapbook``), so the book reads it as before, and needs nothing but IPython.
In a notebook such an output shows nothing: the plain notebooks of the student repository
carry the values in their text instead (tools/plain_notebooks.py).

The helpers record without showing (``display=False``), as the chapters do:

- :func:`glue_number`, :func:`glue_int`, :func:`glue_text`: a value for ``{glue:text}``;
- :func:`glue_md`: Markdown for ``{glue:md}``; :func:`glue_table` builds a table with
  :func:`markdown_table` first;
- :func:`glue_figure`: a matplotlib figure for ``{glue:figure}``, then closed (the notebook
  shows it where the text places it, not twice);
- :func:`format_mean_sd`: ``"0.512 ± 0.004"`` over seeds, for a table cell.

A chapter imports them (``from gdlib.book import glue_figure, glue_number``) instead of defining
its own; CONTRIBUTING.md ("Add a chapter") lists them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

__all__ = ["glue", "GLUE_PREFIX", "glue_number", "glue_int", "glue_text", "glue_md",
           "glue_figure", "glue_table", "markdown_table", "format_mean_sd"]

GLUE_PREFIX = "application/papermill.record/"
_ALIGN = {"l": "---", "r": "---:", "c": ":---:"}


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


def glue_number(name: str, value) -> None:
    """Record ``float(value)`` under ``name``, not shown: the text formats it,
    ``{glue:text}`name:.3f```.

    Parameters
    ----------
    name : str
        The glue key.
    value : real number
        A Python or numpy number, or a 0-d array (NaN and infinities are recorded as they are).
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"glue_number needs a real number, got value={value!r} "
                         f"for name={name!r}") from None
    glue(name, number, display=False)


def glue_int(name: str, value) -> None:
    """Record the integer ``value`` under ``name``, not shown (a count: ``{glue:text}`name```).

    Parameters
    ----------
    name : str
        The glue key.
    value : integer
        A Python or numpy integer, or a float with an integral value (``3.0``, from a sum of
        floats); a fractional value is refused rather than truncated.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = int(value)
    else:
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            as_float = math.nan
        if not (math.isfinite(as_float) and as_float == int(as_float)):
            raise ValueError(f"glue_int needs an integer, got value={value!r} for name={name!r}")
        number = int(as_float)
    glue(name, number, display=False)


def glue_text(name: str, text) -> None:
    """Record ``str(text)`` under ``name``, not shown: a word or phrase the text pastes with
    ``{glue:text}`name```."""
    glue(name, str(text), display=False)


def glue_md(name: str, text: str) -> None:
    """Record the Markdown ``text`` under ``name``, not shown: the text pastes it with
    ``{glue:md}`name``` (inline) or a ``{glue:md}`` directive (a table, a paragraph)."""
    from IPython.display import Markdown

    if not isinstance(text, str):
        raise ValueError(f"glue_md needs Markdown as a str, got text={text!r} for name={name!r}")
    glue(name, Markdown(text), display=False)


def markdown_table(header: Sequence, rows: Sequence[Sequence], align: str | None = None) -> str:
    """A Markdown (MyST, GitHub) table: ``| a | b |``, a rule, then one line per row.

    Cells are written with ``str``; a ``|`` inside a cell is escaped (``\\|``) so it cannot split
    the cell.

    Parameters
    ----------
    header : sequence
        The column titles; their number :math:`k` is the width every row must have.
    rows : sequence of sequences
        The rows, each of :math:`k` cells.
    align : str, optional
        ``"l"``, ``"r"`` or ``"c"`` for every column, or one such letter per column
        (``"lrr"``). The default, ``"l"`` then ``"r"`` for the other :math:`k - 1` columns, suits
        a label column followed by numbers.

    Returns
    -------
    str
        The table, lines joined by ``"\\n"``.
    """
    header = [str(cell) for cell in header]
    width = len(header)
    if width == 0:
        raise ValueError("markdown_table needs at least one column, got header=[]")
    align = "l" + "r" * (width - 1) if align is None else align
    if not isinstance(align, str) or len(align) not in (1, width) or set(align) - set(_ALIGN):
        raise ValueError(f"align must be one of 'l', 'r', 'c' or one such letter per column "
                         f"({width}), got align={align!r}")
    align = align * width if len(align) == 1 else align
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(_ALIGN[a] for a in align) + "|"]
    for k, row in enumerate(rows):
        if isinstance(row, str) or len(row) != width:
            raise ValueError(f"every row must have {width} cells like the header, got rows[{k}]="
                             f"{row!r}")
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def glue_table(name: str, header: Sequence, rows: Sequence[Sequence],
               align: str | None = None) -> None:
    """Record the table :func:`markdown_table` ``(header, rows, align)`` as Markdown under
    ``name``, not shown: the text places it with a ``{glue:md}`` directive."""
    glue_md(name, markdown_table(header, rows, align))


def glue_figure(name: str, fig) -> None:
    """Record the matplotlib figure ``fig`` under ``name``, not shown, and close it: the text
    places it with a ``{glue:figure}`` directive (with ``:alt:`` text), so the notebook does not
    also draw it at the end of the cell."""
    import matplotlib.pyplot as plt

    if not hasattr(fig, "savefig"):
        raise ValueError(f"glue_figure needs a matplotlib figure, got fig={fig!r} "
                         f"for name={name!r}")
    glue(name, fig, display=False)
    plt.close(fig)


def format_mean_sd(values, fmt: str = "{:.3f}") -> str:
    r"""``"mean ± sd"`` of ``values``, each formatted with ``fmt``.

    The mean :math:`\bar v = \frac1n \sum_i v_i` and the sample standard deviation
    :math:`s = \sqrt{\frac{1}{n - 1} \sum_i (v_i - \bar v)^2}` (``ddof=1``: the spread over seeds).
    A sign flag in ``fmt`` (``"{:+.3f}"``) applies to the mean only: a standard deviation has no
    sign.

    Parameters
    ----------
    values : array_like
        At least two numbers (one per seed); a NaN or an infinity shows as ``nan``/``inf``.
    fmt : str
        A ``str.format`` pattern with one field, e.g. ``"{:.1f}"``.

    Returns
    -------
    str
        E.g. ``"0.512 ± 0.004"``.
    """
    import numpy as np

    values = np.asarray(values, dtype=float).ravel()
    if values.size < 2:
        raise ValueError(f"format_mean_sd needs at least two values, got values={values!r}")
    spread = fmt.replace("+", "")
    return f"{fmt.format(values.mean())} ± {spread.format(values.std(ddof=1))}"
