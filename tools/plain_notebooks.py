"""Plain notebooks: the book's chapters as Jupyter shows them, every result in its place.

The chapters are MyST notebooks: their text pastes results with myst-nb's ``glue`` roles and
directives (``{glue:text}``, ``{glue:figure}``, ``{glue:md}``), cites with ``{cite}``, links
with ``{doc}`` and frames exercises and algorithms in directives. The book (Sphinx) renders all
of that; JupyterLab, Notebook 7, Colab, Binder or a downloaded ``.ipynb`` show it as raw markup,
and the glued results not at all. :func:`render_notebook` writes the notebook a student opens:

- the executed notebook of the book build (the jupyter-cache of ``make book``, matched on the
  chapter's code cells, so it must be up to date: ``make book`` first) with its outputs, minus
  the invisible glue records;
- every glue role and directive replaced by its value: numbers formatted as the book formats
  them (myst-nb's own function), Markdown tables as Markdown, figures as PNG attachments of
  their markdown cell (``![alt](attachment:name.png)``) with the book's number and caption;
- citations as "(Author et al., 2017)" linked to the book's bibliography page, plus a
  References list at the end; ``{doc}``/``{ref}``/``{numref}`` links to the book's pages
  (``book_url`` of course.yml), shown as the book shows them: ``{ref}`ch-optimizers``` as the
  chapter's title, ``{numref}`Chapter %s <ch-optimizers>``` with the chapter's number from
  _toc.yml (a section's number as Sphinx counts it, a figure's as this page numbers it); a label
  no page defines is an error, as it is for the book; exercises, solutions (in ``<details>``),
  algorithms and admonitions as plain Markdown with the book's numbers; ``(label)=`` targets
  and MyST comments dropped;
- cells tagged ``hide-input`` keep their code collapsed (``jupyter.source_hidden``), as the book
  hides it; a saved static explorer (gdlib.widgets.static) gets a line saying that running the
  cell gives the live one (JupyterLab does not run the scripts of an untrusted notebook);
- the install cell's placeholders filled in (tools/install_cell.py).

Anything else MyST (a role or directive this module does not know) raises
:class:`PlainNotebookError`, so a chapter cannot silently ship raw markup. ``make student-repo``
(tools/student_repo.py) writes the student repository's chapters with it, and ``make book``
(tools/build_book.py) the book's "download .ipynb" files.

Usage: ``python tools/plain_notebooks.py OUTPUT_DIR [CHAPTER.ipynb ...]`` (default: every
chapter) writes the plain notebooks into OUTPUT_DIR.
"""

from __future__ import annotations

import argparse
import copy
import html
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_config  # noqa: E402  (tools/course_config.py)
import install_cell  # noqa: E402  (tools/install_cell.py)

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / "_build" / ".jupyter_cache"  # execute.cache of _config.yml
HTML_DIR = REPO_ROOT / "_build" / "html"
BIBLIOGRAPHY_DOC = "chapters/bibliography"
GLUE_PREFIX = "application/papermill.record/"

# A MyST directive fence: ```{name} argument  (or :::{name}); the closing fence repeats the
# opening character at least as often.
DIRECTIVE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})\s*\{(?P<name>[^}\s]+)\}"
                       r"(?P<argument>.*)$")
CODE_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`{]*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):(?:\s+(?P<value>.*))?$")
TARGET = re.compile(r"^\s{0,3}\((?P<label>[^()\s]+)\)=\s*$")
MYST_COMMENT = re.compile(r"^\s{0,3}%")
BLOCK_BREAK = re.compile(r"^\s{0,3}\+\+\+")
# An inline role {name}`content`, or a code span (whose content is left alone).
INLINE = re.compile(r"(?P<role>\{(?P<name>[A-Za-z][\w:+.-]*)\}`(?P<content>[^`]*)`)"
                    r"|(?P<code>(?P<ticks>`+)[\s\S]*?[^`](?P=ticks)(?!`))")
EXPLICIT_TARGET = re.compile(r"^(?P<text>[\s\S]*?)\s*<(?P<target>[^<>]+)>$")

ADMONITIONS = {"note": "Note", "tip": "Tip", "hint": "Hint", "important": "Important",
               "warning": "Warning", "caution": "Caution", "attention": "Attention",
               "danger": "Danger", "error": "Error", "seealso": "See also"}
PROOF_TYPES = {"algorithm": "Algorithm", "theorem": "Theorem", "lemma": "Lemma",
               "definition": "Definition", "proposition": "Proposition",
               "corollary": "Corollary", "example": "Example", "remark": "Remark",
               "conjecture": "Conjecture", "axiom": "Axiom", "criterion": "Criterion",
               "observation": "Observation", "property": "Property", "assumption": "Assumption"}
# The static HTML twin of a live explorer (gdlib.widgets.static), saved by the book build: its
# sliders need its script, which JupyterLab does not run in an untrusted notebook.
STATIC_EXPLORER = 'class="gdlib-explorer"'
STATIC_EXPLORER_NOTE = ("*The book's static copy of the explorer (its sliders move only where a "
                        "notebook's saved scripts may run): run this cell for the live explorer.*")
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/svg+xml": "svg"}


class PlainNotebookError(RuntimeError):
    """A chapter cannot be rendered as a plain notebook; the message says where and why."""


# --- what the conversion needs to know -----------------------------------------------------------


@dataclass
class Reference:
    key: str
    label: str          # "Kingma and Ba", "Goyal et al."
    year: str
    text: str           # the entry, in Markdown
    anchor: str = ""    # its id on the book's bibliography page, if known


@dataclass
class Target:
    """Where a MyST label ``(name)=`` points: its page, the heading it labels (the page's title
    for a label on the title) and, for a numbered chapter, that heading's number."""

    docname: str
    title: str          # the heading's text, "" for a label on something else
    number: str = ""    # "5" (a chapter), "5.2" (a section); "" when unnumbered
    anchor: str = ""    # "" for the page itself (a label on its title)


@dataclass
class Course:
    """The course-wide facts: addresses, chapter numbers, titles, labels, bibliography."""

    root: Path
    config: dict
    numbers: dict[str, int]
    titles: dict[str, str]
    references: dict[str, Reference]
    labels: dict[str, Target] = field(default_factory=dict)

    def url(self, docname: str, anchor: str = "") -> str:
        return f"{self.config['book_url']}{docname}.html" + (f"#{anchor}" if anchor else "")


@dataclass
class Page:
    """One document being converted: its glued values and its running counters."""

    course: Course
    docname: str
    glue: dict[str, dict] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    numbered: dict[str, str] = field(default_factory=dict)   # label -> "Exercise 4.1"
    cited: list[str] = field(default_factory=list)
    attachments: dict[str, dict] = field(default_factory=dict)  # of the current cell
    where: str = ""

    def error(self, message: str) -> PlainNotebookError:
        return PlainNotebookError(f"{self.docname}{self.where}: {message}")

    def number(self, kind: str, label: str | None) -> str:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        chapter = self.course.numbers.get(self.docname)
        number = f"{chapter}.{self.counters[kind]}" if chapter else str(self.counters[kind])
        if label:
            self.numbered[label] = number
        return number


def toc_docnames(root: Path) -> tuple[list[str], dict[str, int]]:
    """Every docname of _toc.yml in order, and the number of each numbered chapter."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    order, numbers = [toc["root"]], {}

    def walk(entries, numbered):
        for entry in entries or []:
            if "file" in entry:
                order.append(entry["file"])
            walk(entry.get("sections"), False)

    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            order.append(entry["file"])
            if part.get("numbered"):
                numbers[entry["file"]] = len(numbers) + 1
            walk(entry.get("sections"), False)
    walk(toc.get("chapters"), False)
    return order, numbers


def title_of(path: Path) -> str:
    """The first level-1 heading of a notebook or Markdown page."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    match = re.search(r"^#\s+(.+?)\s*$", text, re.M)
    return match[1] if match else path.stem


HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*#*\s*$")


def page_text(path: Path) -> str:
    """The MyST Markdown of a page: a notebook's markdown cells, or a Markdown file."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    text = path.read_text(encoding="utf-8")

    def include(match: re.Match) -> str:    # ```{include} ../CONVENTIONS.md: its headings count
        included = path.parent / match["file"].strip()
        return included.read_text(encoding="utf-8") if included.is_file() else match[0]
    return re.sub(r"^```\{include\}(?P<file>.*)\n```$", include, text, flags=re.M)


def page_labels(docname: str, text: str, chapter: int | None) -> dict[str, Target]:
    """The ``(label)=`` targets of one page, each with the heading that follows it and that
    heading's number as Sphinx counts sections under a numbered chapter (the title is the
    chapter, ``##`` its sections ``5.1``, ``5.2``, ``###`` their subsections ``5.1.1``).

    A label followed by anything but a heading gets no title (a ``{ref}`` to it needs its own
    text, as in the book)."""
    labels: dict[str, Target] = {}
    pending: list[str] = []
    stack: list[tuple[int, list[int]]] = []   # (heading level, its number as a list)
    counters: dict[tuple, int] = {}
    seen_title, fence = False, None
    top = [chapter] if chapter else []
    for line in text.split("\n"):
        opening = re.match(r"^ {0,3}(`{3,}|~{3,}|:{3,})", line)
        if fence is not None:
            if opening and opening[1][0] == fence[0] and len(opening[1]) >= len(fence) \
                    and not line.strip()[len(opening[1]):].strip():
                fence = None
            continue
        if opening:
            fence, pending = opening[1], []
            continue
        target = TARGET.match(line)
        if target:
            pending.append(target["label"])
            continue
        if not line.strip():
            continue
        heading = HEADING.match(line)
        title, number, is_title = "", "", False
        if heading:
            level, title = len(heading["hashes"]), heading["title"]
            if not seen_title:
                seen_title, is_title, digits = True, True, list(top)
            else:
                while stack and stack[-1][0] >= level:
                    stack.pop()
                parent = stack[-1][1] if stack else list(top)
                counters[tuple(parent)] = counters.get(tuple(parent), 0) + 1
                digits = parent + [counters[tuple(parent)]]
            stack.append((level, digits))
            number = ".".join(map(str, digits)) if chapter else ""
        for label in pending:
            labels[label] = Target(docname, title, number, "" if is_title else label)
        pending = []
    for label in pending:
        labels[label] = Target(docname, "", "", label)
    return labels


def read_references(root: Path, html_dir: Path | None) -> dict[str, Reference]:
    """references.bib formatted as the book formats it (pybtex "plain"), with author-year labels
    and, when the built book is at hand, each entry's anchor on its bibliography page."""
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin
    from pybtex.richtext import Text

    bib = parse_file(str(root / "references.bib"))
    style = find_plugin("pybtex.style.formatting", "plain")()
    formatted = list(style.format_bibliography(bib))
    anchors = bibliography_anchors(html_dir, formatted) if html_dir else {}
    references = {}
    for entry in formatted:
        fields = bib.entries[entry.key]
        people = fields.persons.get("author") or fields.persons.get("editor") or []
        names = [str(Text.from_latex(" ".join(p.prelast_names + p.last_names))) for p in people]
        label = (names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2
                 else f"{names[0]} et al." if names else entry.key)
        text = " ".join(entry.text.render_as("markdown").split())
        references[entry.key] = Reference(entry.key, label, fields.fields.get("year", ""), text,
                                          anchors.get(entry.key, ""))
    return references


def bibliography_anchors(html_dir: Path, formatted) -> dict[str, str]:
    """key -> id of its entry on the built bibliography page (entries in the same order)."""
    page = html_dir / f"{BIBLIOGRAPHY_DOC}.html"
    if not page.is_file():
        return {}
    found = re.findall(r'<div class="citation" id="([^"]+)" role="doc-biblioentry">\s*'
                       r'<span class="label">.*?</span>\s*<p>(.*?)</p>', page.read_text("utf-8"),
                       re.S)
    anchors = {}
    for (anchor, body), entry in zip(found, formatted):
        shown = " ".join(html.unescape(re.sub(r"<[^>]+>", "", body)).split())
        if shown == " ".join(entry.text.render_as("text").split()):
            anchors[entry.key] = anchor
    return anchors


def load_course(root: Path = REPO_ROOT, config: dict | None = None,
                html_dir: Path | None = HTML_DIR) -> Course:
    config = course_config.load(root / "course.yml") if config is None else config
    order, numbers = toc_docnames(root)
    titles, labels = {}, {}
    for docname in order:
        for suffix in (".ipynb", ".md"):
            path = root / f"{docname}{suffix}"
            if path.is_file():
                titles[docname] = title_of(path)
                for label, target in page_labels(docname, page_text(path),
                                                 numbers.get(docname)).items():
                    if label in labels:
                        raise PlainNotebookError(f"the label {label!r} is defined twice: in "
                                                 f"{labels[label].docname} and {docname}")
                    labels[label] = target
                break
    return Course(root, config, numbers, titles, read_references(root, html_dir), labels)


# --- glue ------------------------------------------------------------------------------------------


def glue_records(nb) -> dict[str, dict]:
    """name -> mime bundle of every glued value in an executed notebook."""
    records = {}
    for c in nb.cells:
        for output in c.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if meta:
                prefix = meta.get("mime_prefix", "")
                records[meta["name"]] = {k[len(prefix):]: v for k, v in output.get("data", {}).items()
                                         if k.startswith(prefix)}
    return records


def is_glue_record(output) -> bool:
    """A glue output that Jupyter would not show anyway (``display=False``)."""
    meta = output.get("metadata", {}).get("scrapbook")
    return bool(meta and meta.get("mime_prefix"))


def glue_value(page: Page, name: str) -> dict:
    if name not in page.glue:
        raise page.error(f"nothing is glued under {name!r} (is the book build up to date?)")
    return page.glue[name]


def format_text(page: Page, content: str, formatted: bool) -> str:
    """``{glue:text}`name:fmt``` (formatted) or ``{glue}`name``` as the book writes them."""
    from myst_nb.core.variables import format_plain_text

    name, spec = (content.rsplit(":", 1) if formatted and ":" in content else (content, ""))
    if "::" in name:
        raise page.error(f"glue from another document ({content!r}) is not supported")
    data = glue_value(page, name.strip())
    if "text/plain" not in data:
        raise page.error(f"{name!r} has no text/plain value")
    text = format_plain_text(data["text/plain"], spec or "s") if formatted else \
        format_plain_text(data["text/plain"], "")
    return escape_markdown(text)


def escape_markdown(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|$])", r"\\\1", text)


def markdown_of(page: Page, data: dict, name: str) -> str:
    if "text/markdown" in data:
        return convert_text(page, data["text/markdown"].strip("\n"))
    if "text/html" in data:
        return data["text/html"]
    if "text/plain" in data:
        return escape_markdown(data["text/plain"])
    raise page.error(f"{name!r} has no Markdown, HTML or text value")


def figure(page: Page, data: dict, name: str, alt: str, caption: str) -> str:
    """An image glued or read from a file, attached to the cell, with its number and caption."""
    mime = next((m for m in IMAGE_TYPES if m in data), None)
    if mime is None:
        if caption or alt:
            raise page.error(f"{name!r} is no image (it has {sorted(data)})")
        return markdown_of(page, data, name)
    filename = f"{re.sub(r'[^A-Za-z0-9_.-]', '-', name)}.{IMAGE_TYPES[mime]}"
    payload = data[mime]
    if isinstance(payload, list):
        payload = "".join(payload)
    page.attachments[filename] = {mime: payload.replace("\n", "") if mime != "image/svg+xml"
                                  else payload}
    alt_text = " ".join(alt.split()).replace("[", "\\[").replace("]", "\\]")
    lines = [f"![{alt_text}](attachment:{filename})"]
    if caption:
        number = page.number("figure", name)
        lines += ["", f"**Fig. {number}** {convert_text(page, caption)}"]
    return "\n".join(lines)


# --- inline roles --------------------------------------------------------------------------------


def cite(page: Page, keys: str, textual: bool) -> str:
    parts = []
    for key in (k.strip() for k in keys.split(",") if k.strip()):
        reference = page.course.references.get(key)
        if reference is None:
            raise page.error(f"{{cite}} of {key!r}, which references.bib does not hold")
        if key not in page.cited:
            page.cited.append(key)
        url = page.course.url(BIBLIOGRAPHY_DOC, reference.anchor)
        parts.append(f"[{reference.label} ({reference.year})]({url})" if textual else
                     f"[{reference.label}, {reference.year}]({url})")
    return ", ".join(parts) if textual else "(" + "; ".join(parts) + ")"


def resolve_doc(page: Page, target: str) -> str:
    target = target.strip()
    path = PurePosixPath(target.lstrip("/")) if target.startswith("/") else \
        PurePosixPath(page.docname).parent / target
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    docname = "/".join(parts)
    for suffix in (".ipynb", ".md"):
        docname = docname.removesuffix(suffix)
    if docname not in page.course.titles:
        raise page.error(f"{{doc}} to {target!r}, which is no page of the book")
    return docname


def split_explicit(content: str) -> tuple[str | None, str]:
    match = EXPLICIT_TARGET.match(content.strip())
    return (match["text"], match["target"]) if match and match["text"] else (None, content.strip())


def role(page: Page, name: str, content: str) -> str:
    """The plain Markdown of one inline role."""
    if name == "glue:text":
        return format_text(page, content, formatted=True)
    if name in ("glue", "glue:", "glue:any"):
        return markdown_of(page, glue_value(page, content.strip()), content.strip())
    if name == "glue:md":
        return markdown_of(page, glue_value(page, content.strip()), content.strip())
    if name in ("cite", "cite:p", "cite:ps"):
        return cite(page, content, textual=False)
    if name in ("cite:t", "cite:ts"):
        return cite(page, content, textual=True)
    if name == "cite:year":
        return ", ".join(page.course.references[k.strip()].year for k in content.split(","))
    if name == "doc":
        text, target = split_explicit(content)
        docname = resolve_doc(page, target)
        return f"[{text or page.course.titles[docname]}]({page.course.url(docname)})"
    if name in ("ref", "numref"):
        return reference(page, name, content)
    if name == "math":
        return f"${content}$"
    if name in ("sub", "sup"):
        return f"<{name}>{html.escape(content)}</{name}>"
    if name in ("abbr", "term", "kbd"):
        return split_explicit(content)[0] or content
    raise page.error(f"no plain rendering for the role {{{name}}}")


def reference(page: Page, name: str, content: str) -> str:
    """``{ref}`` and ``{numref}`` as the book shows them, linked to the book's page.

    ``{ref}`label``` shows the labelled heading (a chapter's title), ``{ref}`text <label>```
    the text; ``{numref}`Chapter %s <label>``` puts the number in place of ``%s`` (and the
    title in place of ``{name}``), ``{numref}`label``` shows "Section 5.2" or "Fig. 5.1". A label
    of this page's figures, exercises or algorithms is numbered as this page numbers them."""
    text, label = split_explicit(content)
    label = label.strip()
    target = page.course.labels.get(label)
    local = page.numbered.get(label)
    if target is None and local is None:
        raise page.error(f"{{{name}}} to {label!r}, a label no page of the book defines")
    if target is not None:
        url = page.course.url(target.docname, target.anchor)
        title, number, kind = target.title, target.number, "Section"
    else:
        url = page.course.url(page.docname, label)
        title, number, kind = "", local, "Fig."
    if name == "ref":
        if text is None and not title:
            raise page.error(f"{{ref}}`{label}` needs its own text: the label is on no heading")
        return f"[{text if text is not None else title}]({url})"
    if not number:
        raise page.error(f"{{numref}} to {label!r}, which has no number (an unnumbered page?)")
    template = text if text is not None else f"{kind} %s"
    shown = template.replace("%s", number).replace("{number}", number).replace("{name}", title)
    return f"[{shown}]({url})"


def convert_inline(page: Page, text: str) -> str:
    def replace(match: re.Match) -> str:
        if match["code"]:
            return match["code"]
        return role(page, match["name"], match["content"])
    return INLINE.sub(replace, text)


# --- directives ----------------------------------------------------------------------------------


def split_options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    """A directive's ``:key: value`` lines (or ``---`` YAML block) and the rest of its body."""
    options: dict[str, str] = {}
    if body and body[0].strip() == "---":
        end = next((i for i in range(1, len(body)) if body[i].strip() == "---"), None)
        if end is not None:
            options = {str(k): str(v) for k, v in (yaml.safe_load("\n".join(body[1:end])) or {}).items()}
            body = body[end + 1:]
    else:
        while body and OPTION.match(body[0].strip()):
            match = OPTION.match(body[0].strip())
            options[match["key"]] = (match["value"] or "").strip()
            body = body[1:]
    while body and not body[0].strip():
        body = body[1:]
    while body and not body[-1].strip():
        body = body[:-1]
    return options, body


def directive(page: Page, name: str, argument: str, options: dict, body: list[str]) -> str:
    """The plain Markdown of one directive."""
    text = "\n".join(body)
    if name in ("glue:figure", "glue", "glue:", "glue:any"):
        key = argument.strip()
        return figure(page, glue_value(page, key), key, options.get("alt", ""),
                      text if name == "glue:figure" else "")
    if name == "glue:md":
        key = argument.strip()
        data = glue_value(page, key)
        if "text/markdown" not in data:
            raise page.error(f"{key!r} holds no Markdown")
        markdown = data["text/markdown"].strip("\n")
        return convert_text(page, markdown) if options.get("format", "commonmark") == "myst" \
            else markdown
    if name == "glue:math":
        data = glue_value(page, argument.strip())
        return "$$\n" + data.get("text/latex", data.get("text/plain", "")).strip("$\n") + "\n$$"
    if name in ("figure", "image"):
        path = (page.course.root / page.docname).parent / argument.strip()
        if not path.is_file():
            raise page.error(f"{{{name}}} of {argument.strip()!r}: no such file")
        import base64
        suffix = path.suffix.lower().lstrip(".")
        mime = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
                "svg": "image/svg+xml"}.get(suffix)
        if mime is None:
            raise page.error(f"{{{name}}} of {path.name}: not an image Jupyter shows")
        data = {mime: path.read_text("utf-8") if suffix == "svg"
                else base64.b64encode(path.read_bytes()).decode()}
        return figure(page, data, options.get("name", path.stem), options.get("alt", ""),
                      text if name == "figure" else "")
    if name == "exercise":
        number = page.number("exercise", options.get("label"))
        title = f" ({convert_inline(page, argument.strip())})" if argument.strip() else ""
        return f"**Exercise {number}**{title}\n\n{convert_text(page, text)}"
    if name == "solution":
        label = argument.strip()
        number = page.numbered.get(label)
        what = f"Solution to Exercise {number}" if number else "Solution"
        return (f"<details>\n<summary>{what}</summary>\n\n{convert_text(page, text)}\n\n"
                "</details>")
    if name.startswith("prf:") and name[4:] in PROOF_TYPES:
        kind = PROOF_TYPES[name[4:]]
        number = "" if "nonumber" in options else " " + page.number(name, options.get("label"))
        title = f" ({convert_inline(page, argument.strip())})" if argument.strip() else ""
        return f"**{kind}{number}**{title}\n\n{convert_text(page, text)}"
    if name == "prf:proof":
        return f"*Proof.* {convert_text(page, text)}"
    if name in ADMONITIONS or name == "admonition":
        title = convert_inline(page, argument.strip()) if name == "admonition" else ADMONITIONS[name]
        if "dropdown" in options.get("class", ""):
            return f"<details>\n<summary>{title}</summary>\n\n{convert_text(page, text)}\n\n</details>"
        return f"**{title}.** {convert_text(page, text)}"
    if name == "dropdown":
        return (f"<details>\n<summary>{convert_inline(page, argument.strip())}</summary>\n\n"
                f"{convert_text(page, text)}\n\n</details>")
    if name == "math":
        return "$$\n" + text + "\n$$"
    if name == "epigraph" or name == "margin" or name == "sidebar":
        return convert_text(page, text)
    if name == "bibliography":
        keys = list(page.course.references) if "all" in options else page.cited
        return "\n".join(f"- {page.course.references[k].text}" for k in keys)
    if name == "include":
        path = (page.course.root / page.docname).parent / argument.strip()
        if not path.is_file():
            raise page.error(f"{{include}} of {argument.strip()!r}: no such file")
        return convert_text(page, path.read_text(encoding="utf-8").strip("\n"))
    raise page.error(f"no plain rendering for the directive {{{name}}}")


def convert_text(page: Page, text: str) -> str:
    """A MyST Markdown text as plain Markdown (block directives, then inline roles)."""
    lines = text.split("\n")
    out: list[str] = []
    plain: list[str] = []

    def flush():
        if plain:
            out.append(convert_inline(page, "\n".join(plain)))
            plain.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        opening = DIRECTIVE.match(line)
        fence = CODE_FENCE.match(line)
        if opening or fence:
            flush()
            mark = (opening or fence)["fence"]
            closing = re.compile(rf"^ {{0,3}}{re.escape(mark[0])}{{{len(mark)},}}\s*$")
            end = next((j for j in range(i + 1, len(lines)) if closing.match(lines[j])), None)
            if end is None:
                if opening:
                    raise page.error(f"the directive {{{opening['name']}}} is never closed")
                end = len(lines)
            if opening:
                options, body = split_options(lines[i + 1:end])
                out.append(directive(page, opening["name"], opening["argument"], options, body))
            else:
                out.append("\n".join(lines[i:end + 1]))
            i = end + 1
            continue
        if TARGET.match(line) or MYST_COMMENT.match(line) or BLOCK_BREAK.match(line):
            flush()
            i += 1
            continue
        plain.append(line)
        i += 1
    flush()
    return "\n".join(out)


# --- notebooks -----------------------------------------------------------------------------------


def executed_notebook(source: Path, cache_dir: Path = CACHE_DIR):
    """The chapter at ``source`` with the outputs of its last execution by ``make book``."""
    from jupyter_cache import get_cache

    nb = nbformat.read(source, as_version=4)
    if not (cache_dir / "global.db").is_file():
        raise PlainNotebookError(f"no execution cache in {cache_dir}: run `make book` first")
    try:
        _, merged = get_cache(str(cache_dir)).merge_match_into_notebook(nb)
    except KeyError:
        raise PlainNotebookError(f"{source.name}: its code changed since the book was built (no "
                                 f"match in {cache_dir}): run `make book` first") from None
    return merged


def render_notebook(source: Path, course: Course, executed=None, *,
                    cache_dir: Path = CACHE_DIR):
    """The plain notebook of the chapter at ``source`` (see the module docstring)."""
    source = Path(source).resolve()
    docname = source.relative_to(course.root.resolve()).with_suffix("").as_posix()
    nb = copy.deepcopy(executed if executed is not None else executed_notebook(source, cache_dir))
    page = Page(course, docname, glue=glue_records(nb))
    for index, cell in enumerate(nb.cells):
        page.where = f" (cell {index + 1})"
        if cell.cell_type == "markdown":
            page.attachments = {}
            cell.source = convert_text(page, cell.source)
            if page.attachments:
                cell["attachments"] = page.attachments
        elif cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not is_glue_record(o)]
            for position in reversed(range(len(cell.outputs))):
                if STATIC_EXPLORER in cell.outputs[position].get("data", {}).get("text/html", ""):
                    cell.outputs.insert(position, nbformat.v4.new_output(
                        "display_data", data={"text/markdown": STATIC_EXPLORER_NOTE}))
            tags = cell.metadata.get("tags", [])
            if "hide-input" in tags or "remove-input" in tags:
                cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
            if "hide-output" in tags:
                cell.metadata.setdefault("jupyter", {})["outputs_hidden"] = True
            if "remove-output" in tags:
                cell.outputs = []
    page.where = ""
    if page.cited:
        references = "\n".join(f"- {course.references[k].text}" for k in page.cited)
        cell = nbformat.v4.new_markdown_cell(
            f"## References\n\n{references}\n\nAll the works the book cites: "
            f"[Bibliography]({course.url(BIBLIOGRAPHY_DOC)}).")
        cell["id"] = "plain-references"
        nb.cells.append(cell)
    install_cell.render_notebook(nb, course.config)
    nb.metadata.pop("widgets", None)
    nbformat.validate(nb)
    return nb


def render_markdown(source: Path, course: Course) -> str:
    """A Markdown page of the book (e.g. chapters/bibliography.md) as plain Markdown."""
    source = Path(source).resolve()
    docname = source.relative_to(course.root.resolve()).with_suffix("").as_posix()
    page = Page(course, docname)
    text = convert_text(page, source.read_text(encoding="utf-8"))
    if page.attachments:
        raise page.error("a Markdown page cannot carry images")
    return text.rstrip("\n") + "\n"


def chapter_sources(root: Path = REPO_ROOT) -> list[Path]:
    """The chapters of _toc.yml (notebooks and Markdown pages under chapters/)."""
    order, _ = toc_docnames(root)
    found = []
    for docname in order:
        if docname.startswith("chapters/"):
            for suffix in (".ipynb", ".md"):
                if (root / f"{docname}{suffix}").is_file():
                    found.append(root / f"{docname}{suffix}")
                    break
    return found


def write_plain_chapters(output: Path, course: Course, sources: list[Path] | None = None, *,
                         cache_dir: Path = CACHE_DIR) -> list[Path]:
    """Write the plain version of every chapter (or of ``sources``) into ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources or chapter_sources(course.root):
        target = output / source.name
        if source.suffix == ".ipynb":
            nbformat.write(render_notebook(source, course, cache_dir=cache_dir), target)
        else:
            target.write_text(render_markdown(source, course), encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the folder to write the plain chapters into")
    parser.add_argument("chapters", nargs="*", type=Path, help="chapters (default: every one)")
    args = parser.parse_args(argv)
    try:
        written = write_plain_chapters(args.output, load_course(),
                                       [p.resolve() for p in args.chapters] or None)
    except PlainNotebookError as error:
        print(f"plain_notebooks: {error}", file=sys.stderr)
        return 1
    print(f"plain_notebooks: {len(written)} chapters written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
