"""The one exception type the command-line tools turn into a one-line message, and the wrapper that does it."""

from __future__ import annotations

import sys
from collections.abc import Callable


class FacemaskError(Exception):
    """A problem with the user's input: a path, a file, a model or a dataset.

    The message names the path and the problem in one line; the command-line tools print it and exit non-zero.
    """


class SettingError(FacemaskError):
    """A setting out of its range: `setting` names it as the settings objects and the TOML do (`crop_margin`),
    `rule` says what is wrong (`must be between 0 and 1, got 1.5`). The command-line tools name the flag instead
    (`--crop-margin must be ...`), the monitor the table's key (`pipeline.crop_margin must be ...`)."""

    def __init__(self, setting: str, rule: str) -> None:
        super().__init__(f"{setting} {rule}")
        self.setting = setting
        self.rule = rule

    def named(self, name: str) -> FacemaskError:
        """The same problem, the setting called `name` (a flag, or a table's key)."""
        return FacemaskError(f"{name} {self.rule}")


def print_error(message: str) -> None:
    """Print a one-line error to stderr."""
    print(f"error: {message}", file=sys.stderr)


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Call `main`, turning FacemaskError (and any OSError, which names its file) into a one-line message with exit
    code 2 and Ctrl-C into 130: what every script and benchmark does with bad input."""
    try:
        return main(argv)
    except FacemaskError as problem:
        print_error(str(problem))
        return 2
    except OSError as problem:  # an OS error no tool turned into a message of its own: still one line
        print_error(f"{problem.strerror or problem}: {problem.filename or ''}".rstrip(": "))
        return 2
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
