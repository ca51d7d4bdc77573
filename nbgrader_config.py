# nbgrader configuration of the course "Gradient Descent for Neural Networks".
#
# solutions/<id>/<id>.ipynb are the source notebooks (solutions and hidden tests); the student
# versions are made from them by `nbgrader generate_assignment <id> --force` only, which
# tools/make_exercises.py (`make exercises`) runs in a temporary copy of the course and copies
# to exercises/<id>/<id>.ipynb. The test cells call gdcheck (student-facing checks, no secrets).
import os

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

c = get_config()  # noqa: F821  (nbgrader provides get_config)

c.CourseDirectory.course_id = "gd-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "release"

# The gradebook lives next to this file (gradebook.db is git-ignored); make_exercises and the
# tests run nbgrader in a temporary copy of the course, so they never touch an instructor's one.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "gradebook.db")

# A stub that fails loudly, so an unanswered exercise scores zero with a clear message.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Every test cell runs in a second or two; a minute per cell leaves room for slow machines and
# stops a student's infinite loop.
c.ExecutePreprocessor.timeout = 60
c.Execute.timeout = 60



class ErrorMessageOnly(Preprocessor):
    """Show a failing cell's error message, not its traceback: IPython's traceback quotes the
    cell's source, hidden tests included. gdcheck's messages say everything a student needs."""

    enabled = Bool(True)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


# Feedback shows the autograded notebook: strip the hidden-test regions and the tracebacks that
# quote them, so hidden seeds (and the markers planted there, tools/plant_markers.py) never reach
# a student.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    ErrorMessageOnly,
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
