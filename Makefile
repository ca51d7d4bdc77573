# Gradient Descent for Neural Networks: build, test and package the course.
#
#   make book           build the book into _build/html (chapters executed, cached)
#   make book-cold      the same from an empty execution cache (to time a cold build)
#   make test           venv, then the book and student repo while PyTorch CPU (where at hand)
#                       and Debian's chromium, postgresql, bubblewrap install; then all of pytest
#   make student-repo   write the student-facing repository to _build/student-repo (one commit per change)
#   make publish        build, then push the student repository and the book (gh-pages) to the
#                       remotes of course.yml; PUBLISH_ARGS="--only student|pages" for one of them
#   make clean          remove _build and caches (keeps .venv)
#
# Other targets (exercises, grade, ...) are added below by their owners.
# Every target creates .venv from requirements.txt first if it is missing or out of date.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_SYSTEM ?= python3
VENV          := .venv
PY            := $(VENV)/bin/python
VENV_STAMP    := $(VENV)/.requirements-installed
PIP_LOG       := $(VENV)/pip-install.log
CHROMIUM      := /usr/bin/chromium
BUILD         := _build
# pytest options for `make test`; override e.g. `make test PYTEST_ARGS="-x"`. Both cores through
# pytest-xdist when it is installed (evaluated when used, i.e. after the venv exists).
PYTEST_ARGS   ?= $(shell $(PY) -c "import xdist" >/dev/null 2>&1 && echo "-n 2")

# Recipes find the venv's tools first (nbgrader runs `alembic` by name, for instance).
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help venv torch system-packages book book-cold book-and-student-repo test student-repo publish clean

help:
	@sed -n '2,13p' Makefile | sed 's/^# \{0,1\}//'

# --- environment -------------------------------------------------------------------------------

venv: $(VENV_STAMP)

# uv (pinned in requirements.txt, installed by pip) installs the same pins as pip in a fraction of
# the time (26 s against 67 s, both with warm caches) and compiles them on every core; pip does it
# if uv cannot (uv reads PyPI, not pip's configuration: a machine whose packages come only from
# pip's find-links or extra indexes gets them through pip).
$(VENV_STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	@echo "make: installing requirements.txt into $(VENV) (log: $(PIP_LOG))"
	@{ $(PY) -m pip install --disable-pip-version-check "$$(grep '^uv==' requirements.txt)" \
	   && $(VENV)/bin/uv pip install --python $(PY) --compile-bytecode -r requirements.txt; } >$(PIP_LOG) 2>&1 \
	  || $(PY) -m pip install --disable-pip-version-check -r requirements.txt >>$(PIP_LOG) 2>&1 \
	  || { cat $(PIP_LOG); echo "make: pip install failed (log above, also in $(PIP_LOG))"; exit 1; }
	@touch $@

# PyTorch's CPU build: an independent reference for the tests (tests/test_against_torch.py,
# the torch.optim comparison in tests/test_optim.py) and a peer in benchmarks/bench_fit.py.
# Optional and outside requirements.txt (students and Binder never need it): it is installed
# where that wheel is at hand (this course's machines keep it on disk, found through pip's
# configured find-links); elsewhere those tests skip and say why. The exact local version
# `+cpu` keeps pip from falling back to PyPI's CUDA build of several GB.
# Niced: `make test` installs it while the book executes its chapters on both cores, and the book
# is what the tests wait for (unpacking torch took 33 s alone, 57-71 s beside the book).
TORCH_SPEC    ?= torch==2.13.0+cpu
TORCH_STAMP   := $(VENV)/.torch-tried

torch: $(TORCH_STAMP)

$(TORCH_STAMP): $(VENV_STAMP)
	@echo "make: installing $(TORCH_SPEC) for the comparisons with PyTorch (log: $(VENV)/pip-torch.log)"
	@nice -n 10 $(PY) -m pip install --disable-pip-version-check "$(TORCH_SPEC)" >$(VENV)/pip-torch.log 2>&1 \
	  || echo "make: $(TORCH_SPEC) is not available here (see $(VENV)/pip-torch.log); the comparisons with PyTorch will be skipped (rm $(TORCH_STAMP) to try again)"
	@touch $@

# Debian's packages for the tests, the missing ones in one apt-get: chromium for the browser tests
# (playwright drives it; never `playwright install`), postgresql for the shared-gradebook test
# (tests/test_grading_postgres.py starts its own server on 127.0.0.1; skipped without it) and
# bubblewrap, the grader's sandbox for root and ordinary users (grading/bubblewrap.py).
system-packages:
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing Debian's$$missing (log: $(BUILD)/apt.log)"; \
	  mkdir -p $(BUILD); \
	  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; } >$(BUILD)/apt.log 2>&1 \
	    || for package in $$missing; do \
	         DEBIAN_FRONTEND=noninteractive apt-get install -y $$package >>$(BUILD)/apt.log 2>&1 \
	           || echo "make: apt-get install $$package failed (see $(BUILD)/apt.log)"; \
	       done; \
	fi
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || echo "make: no postgresql: the PostgreSQL test will be skipped"
	@command -v bwrap >/dev/null 2>&1 || echo "make: no bubblewrap: grading will refuse to run without root or --unsafe-same-user"
	@[ -x $(CHROMIUM) ] || { cat $(BUILD)/apt.log; echo "make: the browser tests need Debian's chromium"; exit 1; }

# --- the book ----------------------------------------------------------------------------------

book: $(VENV_STAMP)
	$(PY) tools/build_book.py

book-cold: $(VENV_STAMP)
	$(PY) tools/build_book.py --force

# --- the student repository --------------------------------------------------------------------

# Its chapters are the plain notebooks of the last `make book` (tools/plain_notebooks.py, from
# the execution cache): run `make book` first after changing a chapter. Its README, Makefile,
# requirements.txt and runtime.txt come from README.student.md and student/.
student-repo: $(VENV_STAMP)
	$(PY) tools/student_repo.py --output $(BUILD)/student-repo

book-and-student-repo: $(VENV_STAMP)
	$(MAKE) --no-print-directory book
	$(MAKE) --no-print-directory student-repo

# --- publishing --------------------------------------------------------------------------------

# The addresses and the git remotes are in course.yml (remotes.student, remotes.pages, or the
# environment variables COURSE_STUDENT_REMOTE, COURSE_PAGES_REMOTE). tools/publish.py builds the
# book, writes the student repository on top of its published history, runs the leak test, then
# pushes both (never forced): the student repository's branch, and _build/html (with .nojekyll)
# to the gh-pages branch of the course repository through ghp-import.
publish: $(VENV_STAMP)
	$(PY) tools/publish.py $(PUBLISH_ARGS)

# --- tests -------------------------------------------------------------------------------------

# The book and the student repo are built first (the book tests and the leak test read them);
# nbval runs every solutions/ notebook from tests/test_notebooks.py, and
# tests/test_student_path.py every student chapter and exercise where students run them.
# The book and then the student repository build while PyTorch and Debian's packages install (none
# of the three needs another): 40-60 s less than one after the other on a fresh machine.
test: $(VENV_STAMP)
	$(MAKE) --no-print-directory -j3 --output-sync=recurse torch system-packages book-and-student-repo
	@# One BLAS thread per process: the two xdist workers already use both cores.
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest $(PYTEST_ARGS) -p no:cacheprovider \
	  --durations=15 tests/

clean:
	rm -rf $(BUILD) .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf

# --- exercises ---------------------------------------------------------------------------------

# Student versions exercises/<id>/<id>.ipynb of solutions/<id>/<id>.ipynb, written only by
# `nbgrader generate_assignment` (run in a temporary copy of the course).
.PHONY: exercises
exercises: $(VENV_STAMP)
	$(PY) tools/make_exercises.py

# --- grading (instructors) ---------------------------------------------------------------------

# Autograde every submitted/<student>/<id>/ in parallel sandboxes (grading/, never shipped to
# students), write feedback/<student>/<id>/ and grades.csv, and print a per-student summary.
# Options: GRADE_ARGS="--workers N --timeout SECONDS --memory MB --student NAME".
.PHONY: grade
grade:
ifndef ASSIGNMENT
	$(error usage: make grade ASSIGNMENT=<id> [GRADE_ARGS="--workers N --timeout S --memory MB"])
endif
	@$(MAKE) --no-print-directory venv
	$(PY) -m grading grade $(ASSIGNMENT) $(GRADE_ARGS)

# Class report (autograded/class-report-<id>.html and .csv, also written by `make grade`);
# REPORT_ARGS="--anonymise" for a copy that can be shared.
.PHONY: report feedback-zip
report:
ifndef ASSIGNMENT
	$(error usage: make report ASSIGNMENT=<id> [REPORT_ARGS="--anonymise"])
endif
	@$(MAKE) --no-print-directory venv
	$(PY) -m grading report $(ASSIGNMENT) $(REPORT_ARGS)

# One zip per student in feedback-zips/<id>/, to return the feedback (e.g. through the LMS).
feedback-zip:
ifndef ASSIGNMENT
	$(error usage: make feedback-zip ASSIGNMENT=<id>)
endif
	@$(MAKE) --no-print-directory venv
	$(PY) -m grading feedback-zip $(ASSIGNMENT)
