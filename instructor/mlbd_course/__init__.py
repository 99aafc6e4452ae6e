"""Instructor tooling of the MLBD course: the ``mlbd`` command (data, releases, checks, grading).

Not for students: it is never installed in a student's environment and the grader hides it from the
kernels that execute submissions. Reference answers are not here either: hidden tests compute their
references inline, and the student package ``mlbd_utils`` holds scaffolding only.
"""
__version__ = "0.1.0"
