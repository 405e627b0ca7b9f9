"""The error a user can fix."""


class UserError(Exception):
    """A problem the user can fix (bad file, missing port, ...): printed as one line, no traceback."""


def reason(e: BaseException) -> str:
    """An exception as the reason in a one-line message. Some carry no text (mido raises a bare
    ``EOFError`` for an empty or cut-short file): say what they mean instead of nothing."""
    text = str(e).strip()
    if text:
        return text
    if isinstance(e, EOFError):
        return "the file ends too early (empty or cut short)"
    return type(e).__name__
