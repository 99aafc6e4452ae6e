"""Course operations on top of nbgrader: releases, self-checks with mutants, batch autograding."""
