"""How the command-line tools end on a user error: one line, `error: <message>`, no traceback.

`cli.run(main)` replaces `absl.app.run(main)` in `mouseflax.main`, `build_data`, `score` and
`synthetic`. An error the user can fix (a bad config value, a missing or truncated file, a full
disk, an unwritable folder) is printed as one line naming the file or field and the fix, and the
process exits with `EXIT_USER_ERROR`. The traceback stays available: `--verbose` lets the error
propagate with it, and the absl log records it at verbosity 1 (`--verbosity=1`). Any other
exception (a bug) keeps its traceback.

A user error is an exception of `USER_ERROR_TYPES` that the project raised: its class is defined in
the project, or the innermost frame of its traceback is project code (a `raise` of ours, with its
message written for the user); an OSError that `fileio.explain` has advice for (disk full,
permission denied, read-only) is one wherever it was raised, and is printed with that advice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import functools
import os
import pathlib
import sys

from absl import app
from absl import flags
from absl import logging

from mouseflax import fileio

EXIT_USER_ERROR = 2
VERBOSE_FLAG = "verbose"
TRACEBACK_VERBOSITY = 1  # absl verbosity at which a user error's traceback is logged.
# ValueError covers the project's VideoError, StaleRecordsError, config and data errors;
# FloatingPointError a diverged training (lower the learning rate).
USER_ERROR_TYPES = (
    ValueError,
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    FloatingPointError,
)
_REPO = pathlib.Path(__file__).resolve().parents[1]
# Folders of the project's packages (the layers of ARCHITECTURE.md), by path: no import upwards.
PROJECT_PACKAGES = ("mouseflax", "data_builders", "configs")
_PROJECT_DIRS = tuple(f"{_REPO / name}{os.sep}" for name in PROJECT_PACKAGES)


def _innermost_filename(error: BaseException) -> str:
  traceback = error.__traceback__
  if traceback is None:
    return ""
  while traceback.tb_next is not None:
    traceback = traceback.tb_next
  return traceback.tb_frame.f_code.co_filename


def _project_class(error: BaseException) -> bool:
  return type(error).__module__.split(".")[0] in PROJECT_PACKAGES


def is_user_error(error: BaseException) -> bool:
  """Whether `error` is one the user can fix from its message (the module docstring's rule)."""
  if isinstance(error, OSError) and fileio.has_advice(error):
    return True
  if not isinstance(error, USER_ERROR_TYPES):
    return False
  return _project_class(error) or _innermost_filename(error).startswith(_PROJECT_DIRS)


def message(error: BaseException) -> str:
  """The text printed after `error: `; an OSError with advice is explained with its path."""
  if isinstance(error, OSError) and not isinstance(error, fileio.OutputWriteError):
    if fileio.has_advice(error):
      error = fileio.explain(error, error.filename or "a file")
  if isinstance(error, fileio.OutputWriteError):
    return error.strerror or str(error)  # Without OSError's "[Errno N]" prefix.
  return str(error)


def _guarded(main: Callable[[list[str]], None], argv: list[str]) -> None:
  try:
    main(argv)
  except Exception as error:  # pylint: disable=broad-exception-caught  # Re-raised unless ours.
    if flags.FLAGS[VERBOSE_FLAG].value or not is_user_error(error):
      raise
    logging.vlog(TRACEBACK_VERBOSITY, "Traceback of the error below:", exc_info=True)
    print(f"error: {message(error)}", file=sys.stderr, flush=True)
    sys.exit(EXIT_USER_ERROR)


def run(main: Callable[[list[str]], None], argv: Sequence[str] | None = None) -> None:
  """`absl.app.run(main)`, with user errors ending as one line (module docstring)."""
  if VERBOSE_FLAG not in flags.FLAGS:  # Defined once per process (tests call this again).
    flags.DEFINE_bool(
        VERBOSE_FLAG, False, "Show the traceback of errors in the input too (a bug report)."
    )
  app.run(functools.partial(_guarded, main), argv=None if argv is None else list(argv))
