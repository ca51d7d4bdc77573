"""gdlib.book: the glue helpers every chapter imports (one definition, not one per chapter)."""

from __future__ import annotations

import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from conftest import REPO_ROOT  # noqa: E402
from gdlib import book  # noqa: E402

HELPERS = ("glue_number", "glue_int", "glue_text", "glue_md", "glue_figure", "glue_table",
           "markdown_table", "format_mean_sd")


@pytest.fixture
def recorded(monkeypatch):
    """What glue would display: (bundle, metadata) per call."""
    calls = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display",
                        lambda data, raw=False, metadata=None: calls.append((data, metadata)))
    return calls


def only(calls):
    assert len(calls) == 1, calls
    data, metadata = calls[0]
    assert metadata["scrapbook"]["mime_prefix"] == book.GLUE_PREFIX  # recorded, not shown
    return metadata["scrapbook"]["name"], {k[len(book.GLUE_PREFIX):]: v for k, v in data.items()}


def test_glue_number_records_a_float_under_its_name(recorded):
    book.glue_number("x", np.float32(0.25))
    name, data = only(recorded)
    assert name == "x" and data["text/plain"] == "0.25"


def test_glue_int_records_integers_and_refuses_fractions(recorded):
    book.glue_int("n", np.int64(7))
    book.glue_int("m", 3.0)
    assert [c[0][book.GLUE_PREFIX + "text/plain"] for c in recorded] == ["7", "3"]
    for bad in (2.5, float("nan"), "seven", None):
        with pytest.raises(ValueError, match="glue_int needs an integer"):
            book.glue_int("n", bad)


def test_glue_number_names_the_value_it_cannot_convert(recorded):
    with pytest.raises(ValueError, match=r"value='abc' for name='x'"):
        book.glue_number("x", "abc")
    assert not recorded


def test_glue_text_and_md(recorded):
    book.glue_text("word", 12)
    book.glue_md("para", "**bold**")
    assert recorded[0][0][book.GLUE_PREFIX + "text/plain"] == "'12'"
    assert recorded[1][0][book.GLUE_PREFIX + "text/markdown"] == "**bold**"
    with pytest.raises(ValueError, match="glue_md needs Markdown"):
        book.glue_md("para", 3)


def test_glue_figure_records_a_png_and_closes_the_figure(recorded):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    book.glue_figure("fig", fig)
    name, data = only(recorded)
    assert name == "fig" and data  # (a PNG in a kernel, where the inline backend formats it)
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="matplotlib figure"):
        book.glue_figure("fig", "not a figure")


def test_markdown_table_aligns_and_escapes():
    table = book.markdown_table(["rule", "lr", "loss"], [["sgd", 0.1, "1|2"], ["adam", 1e-3, 3]])
    assert table.split("\n") == ["| rule | lr | loss |", "|---|---:|---:|",
                                 "| sgd | 0.1 | 1\\|2 |", "| adam | 0.001 | 3 |"]
    assert book.markdown_table(["a", "b"], [[1, 2]], align="l").split("\n")[1] == "|---|---|"
    assert book.markdown_table(["a", "b"], [[1, 2]], align="cr").split("\n")[1] == "|:---:|---:|"
    with pytest.raises(ValueError, match=r"rows\[1\]"):
        book.markdown_table(["a", "b"], [[1, 2], [3]])
    with pytest.raises(ValueError, match="align"):
        book.markdown_table(["a", "b"], [[1, 2]], align="lrl")
    with pytest.raises(ValueError, match="at least one column"):
        book.markdown_table([], [])


def test_glue_table_records_the_markdown_table(recorded):
    book.glue_table("t", ["a", "b"], [[1, 2]])
    name, data = only(recorded)
    assert name == "t" and data["text/markdown"] == book.markdown_table(["a", "b"], [[1, 2]])


def test_format_mean_sd_uses_the_sample_deviation_and_no_sign_on_it():
    values = [1.0, 2.0, 4.0]
    sd = np.sqrt(((np.array(values) - 7 / 3) ** 2).sum() / 2)
    assert book.format_mean_sd(values) == f"{7 / 3:.3f} ± {sd:.3f}"
    assert book.format_mean_sd([-1.0, -3.0], "{:+.1f}") == "-2.0 ± 1.4"
    with pytest.raises(ValueError, match="at least two values"):
        book.format_mean_sd([1.0])


def test_no_chapter_defines_its_own_glue_helper():
    """The helpers live in gdlib.book; a chapter that redefines one drifts from the others."""
    helper = re.compile(r"^def _?(glue|glue_number|glue_int|glue_text|glue_md|glue_figure|"
                        r"glue_table|markdown_table|format_mean_sd|mean_sd)\(", re.M)
    found = []
    for path in sorted((REPO_ROOT / "chapters").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code":
                found += [f"{path.name}: def {name}" for name in helper.findall(source)]
    assert not found, "import these from gdlib.book instead:\n" + "\n".join(found)
