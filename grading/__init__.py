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

After grading: the class report, the records, returning feedback
------------------------------------------------------------------

Every ``grade`` run ends by writing, in ``autograded/`` (the instructor's folder: nothing there
reaches students or the student repository):

- ``class-report-<id>.html`` and ``.csv`` (``class_report``): statuses, the score distribution,
  the pass rate of each test cell (titled "Visible test: adam_step", "Hidden test: adam_step"),
  the mistakes gdcheck named ("This looks like Adam without bias correction.") with how many
  students made each and a link to the book section that addresses it (``sections``: the book's
  address is ``book_url`` of ``course.yml``; without one, links go to ``_build/html``), students
  flagged for review, submissions not graded (or only in part) with their reason, and students
  who submitted nothing. One offline page: inline plots, no script, no request to any host.
  ``python -m grading report <id>`` writes it again from the records; ``--anonymise`` also
  writes ``class-report-<id>-anonymised.*`` to share (pseudonyms, no reasons);
- ``grading-report-<id>.csv`` (``records``): one row per student, status, score, reason, named
  mistakes. ``grade <id> --student NAME`` updates NAME's row and keeps everyone else's;
- ``grades-<id>.csv``: a status and the gradebook's score (manual grades included) per student.
  A real zero (``graded``, 0), a ``malformed`` submission (0) and no submission (``missing``,
  no score: a student of the gradebook without a submission) are told apart; nbgrader's
  ``grades.csv`` at the course root stays as nbgrader writes it (0.0 for all three).

Feedback (``feedback``, ``feedback_pages``): ``feedback/<student>/<id>/<notebook>.html`` with
MathJax 3 in ``mathjax/`` beside it (no CDN), links to the published book (and, under a message
that names a mistake, to the section about it), test cells titled by what they check, long
messages wrapped; a student who submitted nothing gets a page saying so.
To return it, ``python -m grading feedback-zip <id>`` writes ``feedback-zips/<id>/<student>.zip``
(the student's folder, maths included), one per student to send by e-mail or through the
learning platform. nbgrader's own ``nbgrader release_feedback <id>`` also works for courses
that collected submissions through nbgrader's exchange, but it copies the HTML pages only:
students then see the maths as LaTeX source and should rather get the zip.
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
