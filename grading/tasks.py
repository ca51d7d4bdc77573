"""What a worker process does with a task: grade one submission, or write one student's feedback."""

from __future__ import annotations

from pathlib import Path

_COURSES: dict = {}


def warm_up() -> None:
    """Import what grading and feedback need (seconds), before the first task arrives."""
    import gdcheck  # noqa: F401
    import nbgrader.utils  # noqa: F401

    from . import feedback, submission  # noqa: F401


def run(task: dict, context: dict, slot: int):
    if task["kind"] == "grade":
        from .submission import grade_submission
        return grade_submission(task, context, slot)
    if task["kind"] == "feedback":
        from . import feedback
        from .gradebook import load_course, venv_on_path
        venv_on_path()
        root = context["course_root"]
        if root not in _COURSES:
            _COURSES[root] = load_course(Path(root))
        return feedback.generate(_COURSES[root], context["assignment"], task["student"], context["secrets"],
                                 context.get("titles"), context.get("book_url"), context.get("install"))
    raise ValueError(f"unknown task kind {task['kind']!r}")
