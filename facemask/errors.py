"""The one exception type the command-line tools turn into a one-line message."""


class FacemaskError(Exception):
    """A problem with the user's input: a path, a file, a model or a dataset.

    The message names the path and the problem in one line; the command-line tools print it and exit non-zero.
    """
