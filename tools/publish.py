"""Put the course online: ``make publish`` runs this.

1. Read the remotes from ``course.yml`` (``remotes.student``, ``remotes.pages``; the environment
   variables ``COURSE_STUDENT_REMOTE`` and ``COURSE_PAGES_REMOTE`` override them). A missing one
   stops everything before any work, with the setting to add.
2. Build the book (``tools/build_book.py``; skipped with ``--no-build``).
3. Write the student repository (``tools/student_repo.py``) on top of the published history:
   the student remote's branch is fetched first, so a release adds one commit (none if nothing
   changed) and the push is a fast-forward.
4. Run the leak test (``tests/test_leaks.py``) on the book and the student repository; a leak
   stops the publication (``--no-leak-test`` for a caller that checks what it pushed itself).
5. Push the student repository's branch: a plain ``git push``, never a forced one.
6. Deploy ``_build/html`` to the ``gh-pages`` branch of the course repository with ghp-import:
   one new commit on top of the branch's history, with ``.nojekyll``, pushed without force.
   GitHub Pages serves it when the course repository's Settings > Pages > Source is "Deploy from
   a branch: gh-pages" (the Actions workflow .github/workflows/book.yml deploys the same site
   when the source is "GitHub Actions").

Usage: ``python tools/publish.py [--only student|pages] [--no-build] [--no-leak-test]
[--course-config FILE] [--root DIR] [--html DIR] [--student-repo DIR] [--pages-repo DIR]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_config  # noqa: E402  (tools/course_config.py)
import student_repo  # noqa: E402  (tools/student_repo.py)

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "_build"
PAGES_BRANCH = "gh-pages"
PAGES_REMOTE_NAME = "course"
FALLBACK_IDENTITY = {"GIT_COMMITTER_NAME": "Gradient Descent course",
                     "GIT_COMMITTER_EMAIL": "course@example.invalid"}


class PublishError(RuntimeError):
    """A step of the publication failed; the message says which and what to do."""


def missing_remotes_message(course: dict, names: list[str], config_file: Path) -> str:
    """What to set when remotes are missing, with push URLs derived from the addresses."""
    examples = {
        "student": ("the student repository's push URL",
                    course_config.github_slug(course["student_repository"])),
        "pages": ("the course repository's push URL (its gh-pages branch serves the book)",
                  course_config.github_slug(course["instructor_repository"])),
    }
    lines = [f"publish: nothing to push to. Set in {config_file}:", "  remotes:"]
    for name in names:
        what, slug = examples[name]
        lines += [f"    # {what}", f"    {name}: git@github.com:{slug}.git"]
    variables = " and ".join(course_config.REMOTE_ENVIRONMENT[n] for n in names)
    lines.append(f"(or the environment: {variables}; CI passes a URL with a token that way).")
    return "\n".join(lines)


def run(command: list[str], cwd: Path, what: str, env: dict | None = None) -> str:
    """Run ``command``; on failure raise :class:`PublishError` saying ``what`` failed and why."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stderr + result.stdout).strip()
        raise PublishError(course_config.redact(f"publish: {what} failed:\n{output}"))
    return result.stdout.strip()


def git_identity_env(repo: Path) -> dict:
    """The environment, with a committer identity for ghp-import when git has none configured."""
    env = dict(os.environ)
    configured = subprocess.run(["git", "config", "user.name"], cwd=repo, capture_output=True,
                                text=True).stdout.strip()
    if not configured:
        for key, value in FALLBACK_IDENTITY.items():
            env.setdefault(key, value)
    return env


def source_revision(root: Path) -> str:
    """``git describe`` of the course repository (for commit messages), or ``"unknown"``."""
    result = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root,
                            capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def remote_head(remote: str, branch: str) -> str | None:
    """The commit of ``branch`` in ``remote``, or None when the remote has no such branch."""
    listed = run(["git", "ls-remote", "--heads", remote, f"refs/heads/{branch}"], REPO_ROOT,
                 f"reading {course_config.redact(remote)}")
    return listed.split()[0] if listed else None


def push_student_repo(course: dict, output: Path) -> str:
    """Push the branch of the student repository in ``output`` (no force); returns its commit."""
    remote, branch = course["remotes"]["student"], course["branch"]
    run(["git", "push", "-q", remote, f"refs/heads/{branch}:refs/heads/{branch}"], output,
        f"pushing the student repository to {course_config.redact(remote)} (never forced; if the "
        "remote moved meanwhile, run `make publish` again)")
    return student_repo.head_commit(output)


def publish_pages(course: dict, root: Path, html: Path, pages_repo: Path) -> str:
    """Commit ``html`` on top of the course remote's gh-pages branch with ghp-import and push it.

    Returns the new gh-pages commit.
    """
    remote = course["remotes"]["pages"]
    if not (pages_repo / ".git").is_dir():
        pages_repo.mkdir(parents=True, exist_ok=True)
        run(["git", "init", "-q"], pages_repo, "git init of the gh-pages work repository")
    remotes = run(["git", "remote"], pages_repo, "git remote").split()
    action = "set-url" if PAGES_REMOTE_NAME in remotes else "add"
    run(["git", "remote", action, PAGES_REMOTE_NAME, remote], pages_repo, "setting the pages remote")
    run(["git", "fetch", "-q", "--prune", "--no-tags", PAGES_REMOTE_NAME], pages_repo,
        f"fetching {course_config.redact(remote)}")
    message = f"Book built from {source_revision(root)}"
    ghp_import = [sys.executable, "-m", "ghp_import", "--no-jekyll", "--push",
                  "--remote", PAGES_REMOTE_NAME, "--branch", PAGES_BRANCH, "--message", message,
                  str(html.resolve())]
    run(ghp_import, pages_repo, f"ghp-import of {html} to {PAGES_BRANCH} of "
        f"{course_config.redact(remote)} (never forced; if the remote moved meanwhile, run "
        "`make publish` again)", env=git_identity_env(pages_repo))
    return run(["git", "rev-parse", f"refs/heads/{PAGES_BRANCH}"], pages_repo, "git rev-parse")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("student", "pages"),
                        help="publish only the student repository, or only the book")
    parser.add_argument("--no-build", action="store_true",
                        help="publish the book already in --html instead of building it")
    parser.add_argument("--no-leak-test", action="store_true",
                        help="skip tests/test_leaks.py (for a caller that checks what it pushed)")
    parser.add_argument("--course-config", type=Path, default=course_config.COURSE_FILE,
                        help="the course's addresses and remotes (default: course.yml)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT,
                        help="the course repository the student repository is made from")
    parser.add_argument("--html", type=Path, default=BUILD_DIR / "html", help="the built book")
    parser.add_argument("--student-repo", type=Path, default=BUILD_DIR / "student-repo",
                        help="the local student repository (its history goes on)")
    parser.add_argument("--pages-repo", type=Path, default=BUILD_DIR / "gh-pages-repo",
                        help="a work repository for the gh-pages branch")
    return parser.parse_args(argv)


def publish(args: argparse.Namespace) -> list[str]:
    """Carry out the steps of the module docstring; returns one line per thing published."""
    course = course_config.load(args.course_config)
    targets = [args.only] if args.only else ["student", "pages"]
    missing = [name for name in targets if not course["remotes"][name]]
    if missing:
        raise PublishError(missing_remotes_message(course, missing, args.course_config))
    # tests/test_leaks.py reads _build/html and _build/student-repo (tests/conftest.py).
    if not args.no_leak_test and (args.html != BUILD_DIR / "html"
                                  or args.student_repo != BUILD_DIR / "student-repo"):
        raise PublishError("publish: the leak test reads _build/html and _build/student-repo; "
                           "with other folders pass --no-leak-test and check them yourself")

    if "pages" in targets:
        if not args.no_build:
            run_visible([sys.executable, str(REPO_ROOT / "tools" / "build_book.py")], "building the book")
        if not (args.html / "index.html").is_file():
            raise PublishError(f"publish: {args.html}/index.html is missing: run `make book` first")
    if "student" in targets:
        before = remote_head(course["remotes"]["student"], course["branch"])
        student_repo.write_student_repo(args.student_repo, args.root, course=course,
                                        base=course["remotes"]["student"])
    if not args.no_leak_test:
        selection = {"student": ["-k", "not the_book"], "pages": ["-k", "not student_repo"]}
        run_visible([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                     str(REPO_ROOT / "tests" / "test_leaks.py"), *selection.get(args.only, [])],
                    "the leak test (tests/test_leaks.py): nothing was pushed")

    done = []
    if "student" in targets:
        head = push_student_repo(course, args.student_repo)
        done.append(f"student repository: {course['student_repository']} branch {course['branch']} "
                    f"at {head[:12]} ({'no change' if head == before else 'new commit'})")
    if "pages" in targets:
        head = publish_pages(course, args.root, args.html, args.pages_repo)
        done.append(f"book: {PAGES_BRANCH} of {course['instructor_repository']} at {head[:12]}, "
                    f"served at {course['book_url']}")
    return done


def run_visible(command: list[str], what: str) -> None:
    """Run ``command`` with its output on the terminal; raise :class:`PublishError` if it fails."""
    if subprocess.run(command, cwd=REPO_ROOT).returncode != 0:
        raise PublishError(f"publish: {what} failed (output above)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for name in ("course_config", "root", "html", "student_repo", "pages_repo"):
        path = getattr(args, name)
        setattr(args, name, path if path.is_absolute() else REPO_ROOT / path)
    try:
        done = publish(args)
    except (PublishError, course_config.CourseConfigError) as error:
        print(error, file=sys.stderr)
        return 1
    except SystemExit as error:  # student_repo refuses a tree with solutions in it
        print(error, file=sys.stderr)
        return 1
    print("publish: done\n" + "\n".join(f"  {line}" for line in done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
