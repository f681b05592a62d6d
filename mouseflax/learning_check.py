"""Did each stream learn? Its validation loss against that of the best constant output.

A reconstruction stream that learnt nothing outputs about the same frame whatever it is shown; its
per-frame error is then the input's distance from that frame (for the flow: the amount of motion),
and a score built on it is a baseline in disguise. Under the MSE loss the best constant output is
the per-pixel mean frame, whose loss is the per-pixel variance averaged over pixels (channels and
frame positions alike). `learnt` = 1 - validation loss / mean-frame loss: 0 for a stream that learnt
nothing, 1 for a perfect one. The demo's flow stream ends at -0.07 to -0.01 (seeds 0-3, hang and
groom held out; its gray stream at 0.46-0.70; mouseflax/models/README.md) while its AUC looks like
a model's.

The constant is the validation frames' own mean frame, the best any constant can do there (a
constant learnt from the training frames does worse when the two differ: on the real-video check
gray -0.44 against the validation mean, 0.02 against the training mean; README).
With `eval.score_streams='learnt'` the score leaves such a stream out (`score_streams`). A stream
that learnt little can still rank anomalies by its input's distance from a typical frame (on that
real check the gray error alone scored 0.820 against both streams' 0.805 and PCA's 0.747), so
`learnt` is on only
where it was chosen on held-out data (`configs/demo.py`).
The same mean-frame loss is the unit of `train.balance_losses` (`balanced_loss_weights`): each
stream's loss divided by it, so a stream counts by the share of its variance left unexplained, not
by how much its pixels vary. Without it the stream whose inputs vary most owns the shared code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mouseflax import streams

# A stream whose validation loss is above (1 - this) of the mean frame's learnt too little for its
# errors to mean more than the input's distance from the mean frame.
LEARNT_MIN = 0.1
# config.eval.score_streams: score every reconstructed stream, or only those that learnt.
ALL, LEARNT = SCORE_STREAMS = ("all", "learnt")
VAL_LOSS_KEY = "val_loss_{stream}"  # The trainer's per-stream validation loss (train.py).
ROWS_PER_CHUNK = 64  # Examples converted at a time (bounds the float64 copy).


def mean_frame_losses(data: Mapping[str, np.ndarray], names: tuple[str, ...]) -> dict[str, float]:
  """{stream: MSE of the per-pixel mean frame} over every frame of every example in `data`.

  Examples are counted as the validation loss counts them (overlapping windows repeat frames).
  """
  sums, squares, frames = {}, {}, 0
  num = len(data[names[0]])
  for start in range(0, num, ROWS_PER_CHUNK):
    # Records hold every stream; to_model_inputs converts them all.
    chunk = streams.to_model_inputs(
        {s: data[s][start : start + ROWS_PER_CHUNK] for s in streams.STREAMS}
    )
    for s in names:
      x = np.asarray(chunk[s], np.float64)
      x = x.reshape(-1, *x.shape[2:])  # [examples * T, H, W, C]: one row per frame.
      sums[s] = sums.get(s, 0.0) + x.sum(axis=0)
      squares[s] = squares.get(s, 0.0) + np.square(x).sum(axis=0)
    frames += len(chunk[names[0]]) * chunk[names[0]].shape[1]
  return {
      s: float(np.mean(np.maximum(squares[s] / frames - np.square(sums[s] / frames), 0.0)))
      for s in names
  }


def balanced_loss_weights(
    loss_weights: Mapping[str, float], data: Mapping[str, np.ndarray]
) -> dict[str, float]:
  """`loss_weights` divided by each stream's mean-frame loss over `data` (pass the validation
  split: every process holds it whole), so a weighted loss of 1 per stream is a constant output's.
  """
  names = tuple(s for s, w in loss_weights.items() if w > 0)
  missing = [s for s in names if s not in data]
  if missing:
    raise ValueError(f"config.train.loss_weights names {missing}, which the records lack.")
  baseline = mean_frame_losses(data, names) if names else {}
  constant = [s for s in names if not baseline[s] > 0]
  if constant:
    raise ValueError(
        f"config.train.balance_losses: the {constant} stream is constant over the validation "
        "split (its mean frame's loss is 0), so its loss cannot be scaled by it: check the data, "
        "or set config.train.balance_losses=False."
    )
  return {s: float(w / baseline[s]) if w > 0 else 0.0 for s, w in loss_weights.items()}


def reconstructed_streams(val_losses: Mapping[str, float]) -> tuple[str, ...]:
  """The streams with a validation reconstruction loss (none for the supervised model)."""
  return tuple(s for s in streams.STREAM_CHANNELS if VAL_LOSS_KEY.format(stream=s) in val_losses)


def in_stream_order(learning: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
  """(stream, check) of a `stream_learning` record in streams.STREAMS order (gray first; JSON
  round trips sort keys)."""
  learning = learning or {}
  return [(s, learning[s]) for s in streams.STREAMS if s in learning]


def stream_learning(
    val_losses: Mapping[str, float], data: Mapping[str, np.ndarray]
) -> tuple[dict[str, dict[str, float]], str | None]:
  """({stream: val_loss, mean_frame_loss, learnt}, a warning naming the streams that learnt too
  little, or None)."""
  names = reconstructed_streams(val_losses)
  if not names:
    return {}, None
  baseline = mean_frame_losses(data, names)
  report = {}
  for s in names:
    loss = float(val_losses[VAL_LOSS_KEY.format(stream=s)])
    learnt = 1.0 - loss / baseline[s] if baseline[s] > 0 else 0.0
    report[s] = {"val_loss": loss, "mean_frame_loss": baseline[s], "learnt": learnt}
  weak = [s for s in names if report[s]["learnt"] < LEARNT_MIN]
  if not weak:
    return report, None
  detail = "; ".join(
      f"{s}: validation loss {report[s]['val_loss']:.3g} vs {report[s]['mean_frame_loss']:.3g} "
      f"for the mean frame (learnt {report[s]['learnt']:.2f})"
      for s in weak
  )
  warning = (
      f"the {', '.join(weak)} stream{'s' if len(weak) > 1 else ''} learnt little beyond a "
      f"constant output ({detail}, under {LEARNT_MIN}): its errors measure the input's distance "
      "from the mean frame (for the flow: the amount of motion), not what the model learnt. "
      "Train longer, check the stream's inputs (flow_scale_px), try model.fusion='cross' (each "
      "stream trains its own code), model.centre_inputs or train.balance_losses, or, where "
      "held-out data shows it helps, leave it out of the score (eval.score_streams='learnt')."
  )
  return report, warning


def score_streams(rule: str, learning: Mapping[str, Mapping[str, float]]) -> list[str] | None:
  """The streams a run's score uses (`config.eval.score_streams`): None = every stream the model
  reconstructs ("all", the paper's); for "learnt" those at or above `LEARNT_MIN` (None when no
  stream learnt that much: the warning says so, and dropping them all would leave no score)."""
  if rule not in SCORE_STREAMS:
    raise ValueError(f"config.eval.score_streams={rule!r}: expected one of {list(SCORE_STREAMS)}")
  if rule == ALL:
    return None
  learnt = [s for s, check in in_stream_order(learning) if check["learnt"] >= LEARNT_MIN]
  return learnt or None


def with_score_note(warning: str | None, learning: Mapping[str, Any], scored: list[str] | None):
  """The learning warning, saying which streams the score leaves out (`score_streams`)."""
  left_out = [s for s, _ in in_stream_order(learning) if scored is not None and s not in scored]
  if not warning or not left_out:
    return warning
  return (
      f"{warning} The score leaves the {', '.join(left_out)} stream out "
      f"(eval.score_streams={LEARNT!r}) and uses {', '.join(scored)} only."
  )
