"""Apache Beam, optional: building records and scoring recordings past one machine.

  pip install -e '.[beam]'
  python -m mouseflax.build_data ... --beam_runner=DirectRunner \
      --beam_options="--direct_num_workers=2 --direct_running_mode=multi_processing"

The same pipelines run on any runner by options alone (Dataflow, Flink, Spark: README.md, "Past one
machine"). Beam is imported only here and only when a runner is asked for, so the package and its
tests run without it; asking for a runner without it raises `BeamNotInstalledError` naming the
extra.

What runs on Beam: the per-chunk work (`mouseflax.chunks`), decode + Farneback for the records
(`data_builders.video_cache`) and decode + model for scoring (`mouseflax.score_beam`). Workers read
the videos and write their results to the paths they are given, so on a cluster those paths must be
on storage every worker mounts (a shared filesystem): OpenCV reads local paths only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
import dataclasses
import shlex
from typing import Any

EXTRA = "beam"
INSTALL_HINT = f"pip install -e '.[{EXTRA}]'"


class BeamNotInstalledError(ImportError, ValueError):
  """A Beam runner was asked for, but apache-beam is not installed (a user error: `cli`)."""


@dataclasses.dataclass(frozen=True)
class BeamSpec:
  """Which runner, with which pipeline options (one string, split like a shell command line)."""

  runner: str
  options: str = ""

  def argv(self) -> list[str]:
    return shlex.split(self.options)


def spec_or_none(runner: str | None, options: str | None = None) -> BeamSpec | None:
  """A BeamSpec from the command line's --beam_runner / --beam_options; None without a runner.

  Raises BeamNotInstalledError when a runner is named but Beam is missing, and ValueError for
  options given without a runner (they would be ignored).
  """
  if not runner:
    if options:
      raise ValueError(f"--beam_options={options!r} given without --beam_runner: name a runner.")
    return None
  require()
  return BeamSpec(runner, options or "")


def define_flags(what: str) -> None:
  """--beam_runner and --beam_options, for the entry points that can run on Beam."""
  from absl import flags  # pylint: disable=g-import-not-at-top  # Only entry points define flags.

  flags.DEFINE_string(
      "beam_runner",
      None,
      f"{what} (DirectRunner, DataflowRunner, FlinkRunner, SparkRunner, ...; needs the "
      f"optional extra: {INSTALL_HINT}). Default: local processes.",
  )
  flags.DEFINE_string(
      "beam_options",
      "",
      "Beam pipeline options, one string, e.g. '--direct_num_workers=2 "
      "--direct_running_mode=multi_processing' or Dataflow's '--project=P --region=R "
      "--temp_location=gs://B/tmp'.",
  )


def spec_from_flags(flag_values: Any) -> BeamSpec | None:
  """The BeamSpec the parsed --beam_runner / --beam_options ask for (None: no Beam)."""
  return spec_or_none(flag_values.beam_runner, flag_values.beam_options)


def require() -> Any:
  """The `apache_beam` module, or BeamNotInstalledError naming the extra to install."""
  try:
    import apache_beam  # pylint: disable=g-import-not-at-top  # Optional extra.
  except ImportError as e:
    raise BeamNotInstalledError(
        f"Apache Beam is not installed ({e}); install the optional extra: {INSTALL_HINT}."
    ) from e
  return apache_beam


def pipeline(spec: BeamSpec) -> Any:
  """A `beam.Pipeline` on `spec`'s runner; use it as a context manager (runs on exit)."""
  beam = require()
  from apache_beam.options import pipeline_options  # pylint: disable=g-import-not-at-top

  options = pipeline_options.PipelineOptions(spec.argv(), runner=spec.runner)
  # Workers unpickle the functions of the main session's modules by import, not by value.
  options.view_as(pipeline_options.SetupOptions).save_main_session = False
  return beam.Pipeline(options=options)


def run_each(spec: BeamSpec, fn: Callable[[Any], Any], items: Iterable[Any], label: str) -> None:
  """Runs `fn(item)` for every item on Beam workers; `fn` writes its own results (no return).

  The items are shuffled across workers (`Reshuffle`), so a few long videos still spread over every
  worker. An exception in `fn` fails the pipeline (after the runner's retries) and is raised here.
  """
  beam = require()
  with pipeline(spec) as p:
    _ = (
        p
        | f"{label}: items" >> beam.Create(list(items))
        | f"{label}: spread" >> beam.Reshuffle()
        | f"{label}: run" >> beam.Map(fn)
    )
