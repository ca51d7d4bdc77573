"""Instructor grading: robust, tamper-resistant, parallel batch grading on nbgrader.

Instructor-only: never shipped to students (tools/student_repo.py leaves grading/ out).
``make grade ASSIGNMENT=<id>`` or ``python -m grading grade <id>`` grades every
``submitted/<student>/<id>/`` with :func:`grade_assignment`.

How a submission is graded (each step is one module):

- ``notebooks``: read whatever was submitted and rebuild it as a CLEAN notebook: the source
  notebook with only the student's answer cells (and added cells); tests and points from the source;
- ``sandbox`` / ``bubblewrap`` / ``isolation`` / ``zygote``: student code runs in a bubblewrap
  sandbox (root or not): an allowlist of read-only files, own PID, mount, IPC and network
  namespaces, own scratch, no capabilities, memory, process, CPU and time limits (the book's
  page instructors/grading-trust.md has the threat model and each mode's guarantees);
  ``sandbox_runner`` / ``watch`` run inside it (cells, calls, flags about tampering);
- ``proxies`` / ``codec`` / ``protocol``: test cells run in the GRADER's process; student
  functions are called through proxies and return plain data only, so no student code can
  touch a check;
- ``submission``: scores with nbgrader's rules and the source's points, statuses and reasons;
- ``pool``: parallel workers; ``gradebook``: nbgrader's gradebook, one writer, one commit per
  submission, manual grades never overwritten; ``feedback``: nbgrader's feedback, hidden tests
  removed and checked; ``report``: progress bar and summary table; ``release``: allowed files;
  ``distributed``: the same grading on a Dask cluster (``grade <id> --scheduler``).

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

Grading a course of 2,000 students on a cluster (Dask)
------------------------------------------------------

``python -m grading grade <id> --scheduler tcp://HOST:8786`` (``make grade ASSIGNMENT=<id>
GRADE_ARGS="--scheduler tcp://HOST:8786"``) grades the submissions on a Dask cluster
(``distributed``). Each Dask worker runs the same sandboxed grading as a local worker: it
prepares the sandbox runtime once per batch (its own block of sandbox uids) and keeps one
grading process. The grading machine keeps the course: it sends each submission's files with its
task (no shared file system is needed), writes the autograded notebooks it gets back, commits
every grade (still the only writer of the gradebook), writes the feedback with ``--workers``
local processes while the cluster grades, and writes the class report. A worker that dies loses
no grade: the scheduler gives its submissions to the other workers, and each grade is committed
once. A scheduler that is lost stops the batch; the grades committed so far are kept.

Every machine needs a copy of this repository at the same commit with ``.venv`` (``make
venv``). A worker needs ``grading/``, ``gdlib/``, ``gdcheck/`` and ``.venv/``, not
``solutions/``. A worker that runs other code is refused::

    # the scheduler: anywhere the grading machine and the workers can reach
    .venv/bin/dask scheduler --port 8786
    # each worker machine (bubblewrap installed, or root): one process per core
    DASK_DISTRIBUTED__WORKER__DAEMON=False PYTHONPATH=$PWD \
        .venv/bin/dask worker tcp://SCHEDULER:8786 --nworkers $(nproc) --nthreads 1
    # the grading machine
    make grade ASSIGNMENT=<id> GRADE_ARGS="--scheduler tcp://SCHEDULER:8786 --workers 8"

On a Slurm cluster, dask-jobqueue (``.venv/bin/pip install dask-jobqueue``; ``PBSCluster`` for
PBS) runs the scheduler in a process on the grading machine and the workers as jobs::

    from dask_jobqueue import SLURMCluster
    cluster = SLURMCluster(cores=32, processes=32, memory="64GB", walltime="01:00:00",
                           python="/path/to/repository/.venv/bin/python",
                           job_script_prologue=["cd /path/to/repository", "export PYTHONPATH=$PWD",
                                                "export DASK_DISTRIBUTED__WORKER__DAEMON=False"],
                           scheduler_options={"port": 8786})
    cluster.scale(jobs=2)  # 64 worker processes
    input(f"grade with --scheduler {cluster.scheduler_address}; press Enter to stop the workers")

Slurm jobs do not run as root: their sandboxes need bubblewrap on the compute nodes (and
unprivileged user namespaces, the default on Debian and Ubuntu); without it a worker refuses
unless the grader was started with ``--unsafe-same-user``. The summary line names the isolation
each worker had.

Expected time. tests/test_grading_dask.py measures it; run it with ``-s`` to print the figures.
The figures below come from a 2-core machine: the gradient-descent assignment, 8 submissions,
graded the same way on both paths in the same run, at a quiet moment. When other jobs also use
the machine, expect up to twice these times.

- One machine, 2 workers: 8 submissions in 6.9 s. The first was graded after 4.1 s, then
  6.5 submissions/s.
- A scheduler and 2 Dask workers on the same 2 cores: 8 submissions in 9.9 s. The first was
  graded after 6.6 s, then 3.6 submissions/s. This is slower, as expected: it uses the same
  cores, plus the cluster's own processes and the local feedback pool.

Grading one submission takes c = 0.4 s of one core for gradient-descent (0.7-0.9 s under
load). The slowest assignment, local-minima, takes up to 3 s (``benchmarks/bench_grading_time.py``
prints the seconds per student of each assignment), and ``grading-report-<id>.csv`` gives the time
of each submission. The grading machine spends m = 50-110 ms on each gradebook commit (SQLite)
and 0.37 s of one core on each feedback page. For N submissions on W worker processes (one per
core) and L local feedback workers::

    T ≈ 30 s (start) + max(N × c / W, N × m, N × 0.37 s / L)

For 2,000 students on 64 worker cores (two 32-core nodes) with L = 8:

- grading takes 2,000 × 0.5 s / 64 ≈ 16 s (gradient-descent, c = 0.4-0.9 s) to
  2,000 × 3 s / 64 ≈ 95 s;
- the commits take 2,000 × 0.07 s ≈ 140 s (100-220 s);
- the feedback takes 2,000 × 0.37 s / 8 ≈ 95 s.

That makes about 3 minutes (2-4), set by the grading machine's commits. More workers than
N × c / 140 s (7 for c = 0.5 s, 43 for c = 3 s) do not make it faster. On one 2-core machine
like the test's, the same class takes 2,000 ÷ 6.5 submissions/s ≈ 5 minutes (gradient-descent,
quiet machine) to 2,000 × 3 s / 2 ≈ 50 minutes (the slowest assignment).
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
