"""Professional supervision pages under /team: the team view, supervision notes and sessions, reassignment."""
