"""nbgrader configuration of the MLBD course (the repository root is the course directory)."""
c = get_config()  # noqa: F821  (provided by nbgrader)

c.CourseDirectory.course_id = "mlbd"
# Each lab folder keeps its mutants (plausible wrong answers) beside the source notebook; they are
# instructor material and must never reach the student release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "mutants.yml"]
c.GenerateAssignment.create_assignment = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Autograding executes each submission; a cell that runs longer than this is stopped.
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
