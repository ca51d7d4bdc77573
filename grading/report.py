"""The per-student report: a progress bar while grading, and a summary table."""

from __future__ import annotations

import shutil
import sys
import time


class Progress:
    """``[#####.....] 12/40 graded  3 flagged  0:25`` on stderr, redrawn in place on a terminal."""

    def __init__(self, total: int):
        self.total, self.stream = max(total, 1), sys.stderr
        self.started = time.monotonic()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_line = -1

    def show(self, done: int, counts: dict[str, int]) -> None:
        width = 30
        filled = int(width * done / self.total)
        elapsed = int(time.monotonic() - self.started)
        extra = "  ".join(f"{n} {status}" for status, n in sorted(counts.items()) if status != "graded" and n)
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} graded"
                f"{'  ' + extra if extra else ''}  {elapsed // 60}:{elapsed % 60:02d}")
        if self.tty:
            self.stream.write("\r" + line[:shutil.get_terminal_size().columns - 1].ljust(20))
            self.stream.flush()
        elif done * 10 // self.total != self.last_line or done == self.total:
            self.last_line = done * 10 // self.total
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _fmt(x: float) -> str:
    return f"{x:g}"


def printable(text: str) -> str:
    """Student-controlled text for a terminal: no ANSI escapes or other control characters."""
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def spreadsheet_cell(text: str) -> str:
    """Student-controlled text for a spreadsheet: printable, and never read as a formula."""
    text = printable(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def table(results, feedback: dict | None = None) -> str:
    """One row per student: status, score, and the reason (wrapped to 110 columns)."""
    import textwrap
    width = 110
    rows = [("student", "status", "score", "reason")]
    for r in sorted(results, key=lambda r: r.student):
        reason = r.reason
        problem = (feedback or {}).get(r.student, {}).get("problem")
        if problem:
            reason += f"; FEEDBACK: {problem}"
        rows.append((printable(r.student), r.status, f"{_fmt(r.score)}/{_fmt(r.max_score)}",
                     printable(reason)))
    w = [max(len(row[i]) for row in rows) for i in range(3)]
    room = max(30, width - sum(w) - 6)
    lines = []
    for k, row in enumerate(rows):
        wrapped = textwrap.wrap(row[3], room) or [""]
        lines.append(f"{row[0]:<{w[0]}}  {row[1]:<{w[1]}}  {row[2]:>{w[2]}}  {wrapped[0]}")
        lines += [" " * (sum(w) + 6) + more for more in wrapped[1:]]
        if k == 0:
            lines.append("-" * min(width, sum(w) + 6 + room))
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines.append("")
    lines.append(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no submissions")
    return "\n".join(lines)

