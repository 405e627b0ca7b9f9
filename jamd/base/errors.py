"""The error a user can fix."""


class UserError(Exception):
    """A problem the user can fix (bad file, missing port, ...): printed as one line, no traceback."""
