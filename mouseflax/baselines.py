"""Cheap baselines scored on the same frames as the model, so every AUC has something beside it.

- `motion_energy`: mean absolute difference of the gray frame (in [0, 1]) to the previous frame of
  the same video; 0 for a frame whose previous frame is not in the split (the first frame of a
  video, or of a video's scored part), as the flow of a first frame is "no motion".
- `flow_magnitude`: mean over H, W, C of |flow - 0.5| of the encoded flow (0.5 is no motion): how
  far the frame's motion is from none.
- `pca`: reconstruction error (mean squared residual over H, W) of the gray frame under a PCA of
  the TRAINING split's gray frames (`PCA_COMPONENTS` components, fitted on a seeded subsample of at
  most `PCA_MAX_FRAMES` normal training frames): a linear autoencoder of appearance.

A model that does not beat them has learnt nothing a frame difference or a linear model would not
give. Pure numpy; the evaluator (`mouseflax.evaluate`) and `benchmarks/real_video_check.py` use
them on per-frame arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import dataclasses

import numpy as np

from mouseflax import streams

MOTION_ENERGY = "motion_energy"
FLOW_MAGNITUDE = "flow_magnitude"
PCA = "pca"
NAMES = (MOTION_ENERGY, FLOW_MAGNITUDE, PCA)
PCA_COMPONENTS = 20
PCA_MAX_FRAMES = 5000
CHUNK_FRAMES = 4096  # Frames projected at once (bounds the float64 temporaries of a long split).
NO_MOTION = 0.5  # The encoded flow of a still pixel (ARCHITECTURE.md, flow normalisation).
NOTES = {
    MOTION_ENERGY: "mean |gray(t) - gray(t-1)| of the frame (gray in [0, 1]; 0 without frame t-1)",
    FLOW_MAGNITUDE: "mean |flow - 0.5| of the frame's encoded flow (deviation from no motion)",
    PCA: f"mean squared residual of the gray frame under a {PCA_COMPONENTS}-component PCA fitted "
    f"on at most {PCA_MAX_FRAMES} normal training frames (seeded subsample)",
}


@dataclasses.dataclass(frozen=True)
class PcaModel:
  """A PCA of flattened gray frames in [0, 1]: mean [D] and orthonormal components [K, D]."""

  mean: np.ndarray
  components: np.ndarray
  num_fit_frames: int


def _flat_gray(gray: np.ndarray) -> np.ndarray:
  """uint8 gray [N, H, W, 1] -> float64 [N, H*W] in [0, 1]."""
  gray = np.asarray(gray)
  return gray.reshape(gray.shape[0], -1).astype(np.float64) / streams.GRAY_SCALE


def fit_pca(gray: np.ndarray, num_components: int = PCA_COMPONENTS) -> PcaModel:
  """PCA of uint8 gray frames [N, H, W, 1] (at most min(N, H*W) components)."""
  x = _flat_gray(gray)
  if x.shape[0] < 2:
    raise ValueError(f"the PCA baseline needs at least 2 training frames, got {x.shape[0]}")
  mean = x.mean(axis=0)
  _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
  return PcaModel(mean, vt[:num_components], x.shape[0])


def pca_error(model: PcaModel, gray: np.ndarray) -> np.ndarray:
  """[N] mean squared residual of each gray frame after projection on the components."""
  errors = []
  for start in range(0, len(gray), CHUNK_FRAMES):
    centred = _flat_gray(gray[start : start + CHUNK_FRAMES]) - model.mean
    residual = centred - (centred @ model.components.T) @ model.components
    errors.append(np.mean(residual**2, axis=1))
  return np.concatenate(errors) if errors else np.zeros(0)


def sample_training_gray(
    take: Callable[[np.ndarray], Mapping[str, np.ndarray]],
    num_sequences: int,
    seed: int,
    max_frames: int = PCA_MAX_FRAMES,
) -> np.ndarray:
  """Up to `max_frames` normal gray frames [N, H, W, 1] from a seeded subsample of sequences.

  Args:
    take: sequence indices -> {'gray': [S, T, H, W, 1], 'anomaly': [S, T]} (a split's reader).
    num_sequences: sequences in the split.
    seed: the run's seed.
    max_frames: the most frames returned.
  """
  rng = np.random.default_rng(seed)
  count = min(num_sequences, -(-max_frames // streams.SEQUENCE_LENGTH))
  rows = take(np.sort(rng.choice(num_sequences, count, replace=False)))
  gray = np.asarray(rows["gray"]).reshape(-1, *np.shape(rows["gray"])[2:])
  gray = gray[np.asarray(rows["anomaly"]).reshape(-1) == 0]
  if gray.shape[0] > max_frames:
    gray = gray[np.sort(rng.choice(gray.shape[0], max_frames, replace=False))]
  return gray


def motion_energy(video: np.ndarray, frame: np.ndarray, gray: np.ndarray) -> np.ndarray:
  """[N] mean |gray(t) - gray(t-1)| per frame; rows sorted by (video, frame)."""
  x = np.asarray(gray).reshape(len(gray), -1).astype(np.int16)  # Exact differences, 2 bytes each.
  diff = np.zeros(x.shape[0])
  follows = (np.diff(video) == 0) & (np.diff(frame) == 1)  # Row i+1 is the frame after row i.
  mean_abs = np.mean(np.abs(np.diff(x, axis=0)), axis=1) / streams.GRAY_SCALE
  diff[1:][follows] = mean_abs[follows]
  return diff


def flow_magnitude(flow: np.ndarray) -> np.ndarray:
  """[N] mean over H, W, C of |flow - NO_MOTION| per frame."""
  flow = np.asarray(flow, np.float32)
  return np.mean(np.abs(flow - NO_MOTION), axis=tuple(range(1, flow.ndim)), dtype=np.float64)


def baseline_scores(
    video: np.ndarray,
    frame: np.ndarray,
    gray: np.ndarray,
    flow: np.ndarray,
    pca: PcaModel | None,
) -> dict[str, np.ndarray]:
  """{baseline: [N] score} of per-frame arrays sorted by (video, frame); 'pca' only with a model."""
  scores = {
      MOTION_ENERGY: motion_energy(video, frame, gray),
      FLOW_MAGNITUDE: flow_magnitude(flow),
  }
  if pca is not None:
    scores[PCA] = pca_error(pca, gray)
  return scores


def unique_frames(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """A windowed split's distinct frames, sorted by (video, frame_index) like evaluate's FrameTable.

  Returns {'video', 'frame_index', 'gray' [N, H, W, 1], 'flow' [N, H, W, 2]}.
  """
  seq_len = np.shape(arrays["frame_index"])[1]
  video = np.repeat(np.asarray(arrays["video"], np.int64).reshape(-1), seq_len)
  frame = np.asarray(arrays["frame_index"], np.int64).reshape(-1)
  keys, first = np.unique(np.stack([video, frame], axis=1), axis=0, return_index=True)
  picks = {}
  for field in ("gray", "flow"):
    values = np.asarray(arrays[field])
    picks[field] = values.reshape(-1, *values.shape[2:])[first]
  return {"video": keys[:, 0], "frame_index": keys[:, 1], **picks}
