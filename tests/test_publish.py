"""Putting the course online: course.yml, `make publish` (tools/publish.py) and the workflows.

`make publish` is run (as tools/publish.py, on the book `make test` built: never rebuilt here)
against local bare repositories standing in for GitHub (file:// remotes that refuse
non-fast-forward pushes), twice with a change in between, then once more from a fresh clone of
nothing (as on a CI runner). What reached the remotes is checked with the leak test's own
finder (tests/test_leaks.py). The GitHub Actions workflows cannot run here: they are validated
against the GitHub workflow schema (check-jsonschema's vendored copy of SchemaStore's) and
checked for what the course needs of them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from conftest import BOOK_HTML, REPO_ROOT
from test_leaks import find_leaks, public_lines, regions, secrets  # noqa: F401  (fixtures)

sys.path.insert(0, str(REPO_ROOT / "tools"))
import build_book  # noqa: E402
import course_config  # noqa: E402
import student_repo  # noqa: E402

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
INSTRUCTOR_ONLY = ("solutions/", "grading/", "tests/", ".github/", ".ci/")


# --- helpers -----------------------------------------------------------------------------------


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def bare_remote(path: Path) -> str:
    """A bare repository standing in for GitHub; like a protected branch, it refuses forced pushes."""
    git("init", "-q", "--bare", "-b", "main", str(path))
    git("config", "receive.denyNonFastForwards", "true", cwd=path)
    git("config", "receive.denyDeletes", "true", cwd=path)
    return path.resolve().as_uri()


def copy_course(destination: Path) -> Path:
    """The course's files (solutions/ and grading/ included) in a new, uncommitted git repository."""
    for path in student_repo.candidate_files(REPO_ROOT):
        target = destination / path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(REPO_ROOT / path, target)
        except FileNotFoundError:  # removed meanwhile by someone editing the course
            continue
    git("init", "-q", cwd=destination)
    return destination


def write_course_config(path: Path, **remotes: str) -> Path:
    raw = yaml.safe_load((REPO_ROOT / "course.yml").read_text())
    raw["remotes"] = {"student": "", "pages": "", **remotes}
    path.write_text(yaml.safe_dump(raw))
    return path


def clean_environment(home: Path) -> dict:
    """No remote override, and a HOME without a git identity (as on a fresh CI runner)."""
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in course_config.REMOTE_ENVIRONMENT.values()
           and not k.startswith("GIT_")}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1")
    return env


def run_publish(*args: str, env: dict, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "publish.py"), *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def commits(bare: Path, branch: str) -> list[str]:
    """The commits of ``branch`` in ``bare``, newest first."""
    return git("--git-dir", str(bare), "rev-list", branch).split()


def files_of(bare: Path, branch: str) -> set[str]:
    return set(git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", branch).splitlines())


def checkout(bare: Path, branch: str, destination: Path) -> Path:
    destination.mkdir()
    archive = subprocess.run(["git", "--git-dir", str(bare), "archive", branch], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(destination)], input=archive, check=True)
    return destination


class LinkCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")


def links_of(page: Path) -> list[str]:
    collector = LinkCollector()
    collector.feed(page.read_text(encoding="utf-8"))
    return collector.links


# --- course.yml: the one place for the addresses -----------------------------------------------


def test_course_yml_holds_the_addresses_and_no_remote_by_default():
    course = course_config.load(environ={})
    assert course["book_url"].startswith("https://") and course["book_url"].endswith("/")
    assert course_config.github_slug(course["student_repository"]).endswith("-student")
    assert course["instructor_repository"] != course["student_repository"]
    assert course["remotes"] == {"student": "", "pages": ""}, \
        "course.yml must not push anywhere by default: a fork sets its own remotes"


@pytest.mark.parametrize("change, message", [
    ({"student_repository": None}, "`student_repository`"),
    ({"book_url": "gd-course.github.io/x"}, "`book_url` must be an https:// address"),
    ({"student_repository": "https://gitlab.com/a/b"}, "https://github.com/OWNER/NAME"),
    ({"instructor_repository": "https://github.com/gd-course/gradient-descent-course-student"},
     "the same"),
    ({"studentrepository": "https://github.com/a/b"}, "unknown setting"),
])
def test_course_yml_errors_name_the_setting(tmp_path, change, message):
    raw = yaml.safe_load((REPO_ROOT / "course.yml").read_text())
    for key, value in change.items():
        if value is None:
            del raw[key]
        else:
            raw[key] = value
    path = tmp_path / "course.yml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(course_config.CourseConfigError, match=message.replace("(", r"\(")):
        course_config.load(path, environ={})


def test_environment_overrides_the_remotes_and_tokens_never_print():
    url = "https://x-access-token:s3cret@github.com/gd-course/gradient-descent-course-student.git"
    course = course_config.load(environ={"COURSE_STUDENT_REMOTE": url})
    assert course["remotes"] == {"student": url, "pages": ""}
    assert "s3cret" not in course_config.redact(f"fatal: unable to access '{url}/'")


def test_a_fork_edits_only_course_yml(tmp_path):
    """Other addresses in course.yml reach jupyter-book's buttons, canonical links and launch links."""
    from jupyter_book.config import get_final_config

    fork = course_config.load(environ={}) | {
        "book_url": "https://fork.example.org/gd/",
        "student_repository": "https://github.com/someone/gd-fork-student",
        "branch": "spring",
    }
    config = build_book.book_config(fork)
    sphinx_config, _ = get_final_config(user_yaml=config, cli_config={"latex_individualpages": False},
                                        sourcedir=REPO_ROOT, validate=True, raise_on_invalid=True)
    theme = sphinx_config["html_theme_options"]
    assert theme["repository_url"] == "https://github.com/someone/gd-fork-student"
    assert theme["repository_branch"] == "spring"
    assert theme["launch_buttons"]["notebook_interface"] == "jupyterlab"
    assert theme["launch_buttons"]["binderhub_url"] and theme["launch_buttons"]["colab_url"]
    assert sphinx_config["html_baseurl"] == "https://fork.example.org/gd/"
    written = build_book.write_book_config(fork, tmp_path / "book-config.yml")
    assert yaml.safe_load(written.read_text())["repository"]["url"] == fork["student_repository"]


def test_the_build_passes_course_yml_to_jupyter_book():
    command = build_book.jupyter_book_command()
    assert command[command.index("--config") + 1] == "_build/book-config.yml"


def test_student_readme_links_come_from_course_yml(tmp_path):
    course_dir = tmp_path / "course"
    course_dir.mkdir()
    shutil.copy2(REPO_ROOT / "course.yml", course_dir / "course.yml")
    (course_dir / "README.md").write_text("instructor README: make grade\n")
    (course_dir / "README.student.md").write_text(
        "Read the book at {{ book_url }}; clone {{student_repository}} (branch {{ branch }}).\n")
    git("init", "-q", cwd=course_dir)
    output = tmp_path / "student"
    files = student_repo.write_student_repo(output, course_dir)
    course = course_config.load(course_dir / "course.yml", environ={})
    assert (output / "README.md").read_text() == (
        f"Read the book at {course['book_url']}; clone {course['student_repository']} "
        f"(branch {course['branch']}).\n")
    assert not (output / "README.student.md").exists() and "README.md" in map(str, files)

    (course_dir / "README.student.md").write_text("{{ book_address }}\n")
    with pytest.raises(SystemExit, match="book_address"):
        student_repo.write_student_repo(output, course_dir)


# --- make publish, against bare repositories standing in for GitHub ----------------------------


def test_publish_without_a_remote_says_what_to_set(tmp_path):
    config = write_course_config(tmp_path / "course.yml")
    # No --no-build: it must stop before building anything.
    result = run_publish("--course-config", str(config), "--student-repo", str(tmp_path / "s"),
                         "--pages-repo", str(tmp_path / "p"), env=clean_environment(tmp_path / "home"),
                         timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    message = result.stderr
    for expected in ("remotes:", "student: git@github.com:gd-course/gradient-descent-course-student.git",
                     "pages: git@github.com:gd-course/gradient-descent-course.git",
                     "COURSE_STUDENT_REMOTE", "COURSE_PAGES_REMOTE", str(config)):
        assert expected in message, f"{expected!r} not in:\n{message}"
    assert "Traceback" not in message
    assert not (tmp_path / "s").exists() and not (tmp_path / "p").exists()


@pytest.mark.book
def test_publish_twice_pushes_one_commit_per_release_and_the_site(book_html, course, secrets,
                                                                  tmp_path):
    student_remote, pages_remote = tmp_path / "student.git", tmp_path / "course.git"
    config = write_course_config(tmp_path / "course.yml", student=bare_remote(student_remote),
                                 pages=bare_remote(pages_remote))
    course_dir = copy_course(tmp_path / "course")
    env = clean_environment(tmp_path / "home")
    args = ["--no-build", "--no-leak-test", "--course-config", str(config), "--root", str(course_dir),
            "--html", str(book_html), "--pages-repo", str(tmp_path / "work" / "pages")]
    local_student = ["--student-repo", str(tmp_path / "work" / "student")]

    first = run_publish(*args, *local_student, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    student_1, pages_1 = commits(student_remote, course["branch"]), commits(pages_remote, "gh-pages")
    assert len(student_1) == 1 and len(pages_1) == 1

    with (course_dir / "CONVENTIONS.md").open("a") as conventions:
        conventions.write("\nA change between two releases.\n")
    second = run_publish(*args, *local_student, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    student_2, pages_2 = commits(student_remote, course["branch"]), commits(pages_remote, "gh-pages")
    assert student_2[1:] == student_1, "the student repository must gain exactly one commit"
    assert pages_2[1:] == pages_1, "gh-pages must go on from its history"

    # A fresh runner (no local student repository), nothing changed: no new commit.
    third = run_publish(*args, "--only", "student", "--student-repo", str(tmp_path / "fresh"), env=env)
    assert third.returncode == 0, third.stdout + third.stderr
    assert commits(student_remote, course["branch"]) == student_2 and "no change" in third.stdout

    # The student repository: the change, and nothing for instructors only.
    student_files = files_of(student_remote, course["branch"])
    instructor = sorted(p for p in student_files if p.startswith(INSTRUCTOR_ONLY) or p.endswith(".db"))
    assert not instructor, f"instructor files pushed to the student repository: {instructor}"
    assert {"README.md", "Makefile", "requirements.txt", "runtime.txt", "CONVENTIONS.md",
            "chapters/04-learning-rate.ipynb"} <= student_files
    assert not {"course.yml", "index.md", "_config.yml", "tools/publish.py"} & student_files
    student_tree = checkout(student_remote, course["branch"], tmp_path / "student-tree")
    assert "A change between two releases." in (student_tree / "CONVENTIONS.md").read_text()
    leaks = find_leaks(student_tree, *secrets)
    assert not leaks, "solutions reached the student remote:\n" + "\n".join(leaks[:20])

    # gh-pages: exactly the built site, plus .nojekyll, and no solution.
    site_files = {p.relative_to(book_html).as_posix() for p in book_html.rglob("*") if p.is_file()}
    pages_files = files_of(pages_remote, "gh-pages")
    assert ".nojekyll" in pages_files and "index.html" in pages_files
    assert pages_files - {".nojekyll"} == site_files - {".nojekyll"}
    assert not [p for p in pages_files if "solutions" in p.lower() or p.startswith("grading/")]
    site = checkout(pages_remote, "gh-pages", tmp_path / "gh-pages")
    leaks = find_leaks(site, *secrets)
    assert not leaks, "solutions reached gh-pages:\n" + "\n".join(leaks[:20])

    # The launch buttons of the deployed pages open the configured student repository.
    slug = course_config.github_slug(course["student_repository"])
    links = links_of(site / "chapters" / "01-introduction.html")
    assert course["student_repository"] in links
    assert (f"https://mybinder.org/v2/gh/{slug}/{course['branch']}"
            "?urlpath=lab/tree/chapters/01-introduction.ipynb") in links
    assert (f"https://colab.research.google.com/github/{slug}/blob/{course['branch']}"
            "/chapters/01-introduction.ipynb") in links


@pytest.mark.book
def test_the_built_book_has_nojekyll(book_html):
    assert (book_html / ".nojekyll").is_file(), "tools/build_book.py writes _build/html/.nojekyll"


# --- the GitHub Actions workflows --------------------------------------------------------------


def workflow(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps_of(job: dict) -> list[dict]:
    return job.get("steps", [])


@pytest.mark.parametrize("schema", ["vendor.github-workflows",
                                    "custom.github-workflows-require-timeout"])
def test_workflows_pass_the_github_workflow_schema(schema, tmp_path):
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"book.yml", "student-repository.yml"}
    command = [str(CHECK_JSONSCHEMA), "--builtin-schema", schema]
    result = subprocess.run([*command, *map(str, files)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # ... and the validator does reject a broken workflow: a misspelt key, a job without a limit.
    breakage = {"vendor.github-workflows": ("    steps:", "    step:"),
                "custom.github-workflows-require-timeout": ("    timeout-minutes:", "    # timeout:")}
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "book.yml").read_text().replace(*breakage[schema]))
    assert subprocess.run([*command, str(broken)], capture_output=True).returncode != 0


def test_workflows_refer_only_to_what_exists():
    """What the schema cannot see: `needs` name jobs, `steps.<id>` name steps, actions are pinned."""
    for path in sorted(WORKFLOWS.glob("*.yml")):
        text = path.read_text()
        jobs = workflow(path.name)["jobs"]
        for name, job in jobs.items():
            needs = job.get("needs", [])
            for need in [needs] if isinstance(needs, str) else needs:
                assert need in jobs, f"{path.name}: job {name} needs unknown job {need}"
            ids = {step["id"] for step in steps_of(job) if "id" in step}
            for reference in set(re.findall(r"steps\.([\w-]+)\.", yaml.safe_dump(job))):
                assert reference in ids, f"{path.name}: job {name} refers to unknown step {reference}"
            for step in steps_of(job):
                if "uses" in step:
                    assert "@" in step["uses"], f"{path.name}: {step['uses']} is not pinned"
        assert "--force" not in text and "push -f" not in text, f"{path.name} force-pushes"
        assert "secrets." not in "".join(s.get("run", "") for j in jobs.values() for s in steps_of(j)), \
            f"{path.name}: pass secrets through env, never into a script's text"


def test_book_workflow_builds_tests_and_deploys_with_the_pages_actions():
    book = workflow("book.yml")
    assert book["on"]["push"]["branches"] == ["main"]
    build, deploy = book["jobs"]["build-and-test"], book["jobs"]["deploy"]
    runs = [step.get("run", "") for step in steps_of(build)]
    assert "make book" in runs and "make test" in runs
    assert runs.index("make book") < runs.index("make test")
    caches = [s for s in steps_of(build) if s.get("uses", "").startswith("actions/cache@")]
    assert any(s["with"]["path"] == "_build/.jupyter_cache" and s["with"].get("restore-keys")
               for s in caches), "the execution cache must be restored between runs"
    uses = [s.get("uses", "").split("@")[0] for s in steps_of(build) + steps_of(deploy)]
    assert {"actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages"} <= set(uses)
    upload = next(s for s in steps_of(build) if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["needs"] == "build-and-test" and "refs/heads/main" in deploy["if"]


def test_student_workflow_pushes_after_a_green_book_run():
    student = workflow("student-repository.yml")
    trigger = student["on"]["workflow_run"]
    assert trigger["workflows"] == [workflow("book.yml")["name"]] and trigger["branches"] == ["main"]
    job = student["jobs"]["push"]
    assert "conclusion == 'success'" in job["if"]
    script = "\n".join(step.get("run", "") for step in steps_of(job))
    assert 'make publish PUBLISH_ARGS="--only student"' in script
    assert "COURSE_STUDENT_REMOTE" in script and "tools/course_config.py student_repository" in script


# --- the documentation --------------------------------------------------------------------------


def test_readme_first_screen_says_how_the_book_gets_online():
    first_screen = "\n".join((REPO_ROOT / "README.md").read_text().splitlines()[:40])
    for expected in ("make publish", "course.yml", "GitHub Pages"):
        assert expected in first_screen, f"README's first screen does not mention {expected!r}"
