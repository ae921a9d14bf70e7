"""Professional supervision: a supervisor's team view, supervision notes and sessions, bulk reassignment."""
