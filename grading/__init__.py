"""Instructor grading: robust, tamper-resistant, parallel batch grading on nbgrader.

Instructor-only: never shipped to students (tools/student_repo.py leaves grading/ out).
``make grade ASSIGNMENT=<id>`` or ``python -m grading grade <id>`` grades every
``submitted/<student>/<id>/`` with :func:`grade_assignment`.

How a submission is graded (each step is one module):

- ``notebooks``: read whatever was submitted and rebuild it as a CLEAN notebook: the source
  notebook with only the student's answer cells (and added cells); tests and points from the source;
- ``sandbox`` / ``isolation`` / ``zygote``: student code runs in its own process, empty folder,
  stripped environment, own uid and hidden instructor files (as root), memory and time limits;
  ``sandbox_runner`` / ``watch`` run inside it (cells, calls, flags about tampering);
- ``proxies`` / ``codec`` / ``protocol``: test cells run in the GRADER's process; student
  functions are called through proxies and return plain data only, so no student code can
  touch a check;
- ``submission``: scores with nbgrader's rules and the source's points, statuses and reasons;
- ``pool``: parallel workers; ``gradebook``: nbgrader's gradebook, one writer, one commit per
  submission, manual grades never overwritten; ``feedback``: nbgrader's feedback, hidden tests
  removed and checked; ``report``: progress bar and summary table; ``release``: allowed files.
"""

__all__ = ["BatchReport", "Options", "Result", "grade_assignment"]


def __getattr__(name):  # lazy, so that a worker importing grading.tasks stays light
    if name in ("BatchReport", "grade_assignment"):
        from . import batch
        return getattr(batch, name)
    if name in ("Options", "Result"):
        from . import submission
        return getattr(submission, name)
    raise AttributeError(f"module 'grading' has no attribute {name!r}")
