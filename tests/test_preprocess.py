"""mouseflax.preprocess: config, gamma, resize, flow direction and size, ranges, flips, decoding."""

import inspect
import threading

import cv2
import fakes  # pylint: disable=g-bad-import-order  # tests/ is on sys.path under pytest.
import jax.numpy as jnp
import numpy as np
import pytest

from mouseflax import preprocess
from mouseflax import video

SIZE = 32
SQUARE = 8
STEP = 2  # Square displacement in pixels per frame, in the 32x32 frame.
BACKGROUND, FOREGROUND = 40, 200


def square_frame(left: int, top: int = 12, size: int = SIZE) -> np.ndarray:
  """32x32 frame with a textured bright square (texture gives Farneback a gradient inside it)."""
  frame = np.full((size, size), BACKGROUND, np.uint8)
  yy, xx = np.mgrid[0:SQUARE, 0:SQUARE]
  frame[top : top + SQUARE, left : left + SQUARE] = FOREGROUND - 6 * ((xx + yy) % 4)
  return frame


def test_config_round_trip_and_unknown_keys():
  cfg = preprocess.PreprocessConfig(gamma=2.0, flow_scale_px=3.0)
  d = cfg.to_dict()
  assert d["resize_hw"] == [32, 32]
  assert preprocess.PreprocessConfig.from_dict(d) == cfg
  with pytest.raises(ValueError, match=r"Unknown PreprocessConfig keys \['gama'\]"):
    preprocess.PreprocessConfig.from_dict({**d, "gama": 1.0})
  with pytest.raises(ValueError, match="gamma"):
    preprocess.PreprocessConfig(gamma=0.0)
  with pytest.raises(ValueError, match="crop_hw"):
    preprocess.PreprocessConfig(crop_hw=(40, 32))


def test_gamma_brightens_and_keeps_ends():
  lut = preprocess.gamma_lut(1.5)
  assert lut[0] == 0 and lut[255] == 255
  assert np.all(lut[1:255] >= np.arange(1, 255)) and lut[64] > 64
  assert np.all(np.diff(lut.astype(int)) >= 0)
  np.testing.assert_array_equal(preprocess.gamma_lut(1.0), np.arange(256))


def test_translating_square_flow():
  cfg = preprocess.PreprocessConfig(gamma=1.0, flow_scale_px=4.0)
  pre = preprocess.FramePreprocessor(cfg)
  lefts = [4 + STEP * t for t in range(5)]
  for left in lefts[:-1]:
    pre(square_frame(left))
  current = pre.process_frame(square_frame(lefts[-1]))
  displacement = pre.raw_flow(current)
  inside = displacement[12 : 12 + SQUARE, lefts[-1] : lefts[-1] + SQUARE]
  assert inside[..., 0].mean() == pytest.approx(STEP, abs=0.3)
  assert abs(inside[..., 1].mean()) < 0.2


def test_outputs_shapes_ranges_and_first_frame():
  cfg = preprocess.PreprocessConfig()
  pre = preprocess.FramePreprocessor(cfg)
  gray0, flow0 = pre(square_frame(4, size=64))
  assert gray0.shape == (24, 32, 1) and gray0.dtype == np.uint8
  assert flow0.shape == (24, 32, 2) and flow0.dtype == np.float32
  np.testing.assert_array_equal(flow0, 0.5)  # No predecessor: no motion.
  # A large jump saturates the flow at the clip: values stay in [0, 1] and reach the bound.
  _, flow1 = pre(square_frame(40, size=64))
  assert flow1.min() >= 0.0 and flow1.max() <= 1.0
  assert flow1[..., 0].max() == pytest.approx(1.0)
  pre.reset()
  _, flow2 = pre(square_frame(4, size=64))
  np.testing.assert_array_equal(flow2, 0.5)


def test_softsign_flow_does_not_saturate_where_clip_does():
  # The square jumps ~18 px at 32x32 (36 at 64x64): clip saturates, softsign keeps it below 1.
  flows = {}
  for encoding in preprocess.FLOW_ENCODINGS:
    pre = preprocess.FramePreprocessor(preprocess.PreprocessConfig(flow_encoding=encoding))
    pre(square_frame(4, size=64))
    flows[encoding] = pre(square_frame(40, size=64))[1]
  assert flows["clip"][..., 0].max() == pytest.approx(1.0)
  softsign = flows["softsign"]
  assert 0.0 < softsign.min() and softsign.max() < 1.0 and softsign[..., 0].max() > 0.75


@pytest.mark.parametrize("encoding", preprocess.FLOW_ENCODINGS)
def test_flow_encodings_are_odd_monotone_and_invertible(encoding):
  scale = 0.7
  d = np.linspace(-30, 30, 2001, dtype=np.float32)
  y = preprocess.encode_flow(d, encoding, scale)
  assert y.dtype == np.float32 and 0.0 <= y.min() and y.max() <= 1.0
  assert preprocess.encode_flow(np.zeros(3, np.float32), encoding, scale).tolist() == [0.5] * 3
  np.testing.assert_allclose(preprocess.encode_flow(-d, encoding, scale), 1.0 - y, atol=1e-6)
  assert np.all(np.diff(y) >= 0)
  # The same slope at 0 for both: 1 / (2 scale) per pixel.
  small = np.float32(1e-3)
  slope = (preprocess.encode_flow(small, encoding, scale) - 0.5) / small
  assert slope == pytest.approx(1 / (2 * scale), rel=1e-2)
  inside = np.abs(d) < (scale if encoding == preprocess.FLOW_CLIP else np.inf)
  np.testing.assert_allclose(
      preprocess.decode_flow(y, encoding, scale)[inside], d[inside], rtol=1e-4, atol=1e-4
  )
  if encoding == preprocess.FLOW_SOFTSIGN:
    assert np.all(np.diff(y) > 0)  # Strictly: every speed stays distinguishable.
    assert preprocess.encode_flow(np.float32(scale), encoding, scale) == pytest.approx(0.75)


def test_hflip_negates_softsign_flow():
  d = np.random.default_rng(0).normal(0, 3, (2, 24, 32, 2)).astype(np.float32)
  flow = preprocess.encode_flow(d, preprocess.FLOW_SOFTSIGN, 1.0)
  _, flipped = preprocess.hflip(np.zeros((2, 24, 32, 1), np.uint8), flow)
  mirrored = np.stack([-d[..., ::-1, 0], d[..., ::-1, 1]], axis=-1)
  np.testing.assert_allclose(
      flipped, preprocess.encode_flow(mirrored, preprocess.FLOW_SOFTSIGN, 1.0), atol=1e-6
  )


def test_legacy_preprocess_json_loads_as_clip_with_its_scale():
  legacy = preprocess.PreprocessConfig().to_dict()
  del legacy["flow_encoding"], legacy["flow_scale_px"]
  legacy["flow_max_disp"] = 2.0  # As written before the encoding was selectable.
  cfg = preprocess.PreprocessConfig.from_dict(legacy)
  assert cfg.flow_encoding == preprocess.FLOW_CLIP and cfg.flow_scale_px == 2.0
  with pytest.raises(ValueError, match="flow_encoding"):
    preprocess.PreprocessConfig(flow_encoding="tanh")
  with pytest.raises(ValueError, match="flow_scale_px"):
    preprocess.PreprocessConfig(flow_scale_px=0.0)


def test_rows_reaching_crop_follow_the_area_resize():
  cfg = preprocess.PreprocessConfig()  # 32x32 resize, rows [4, 28) kept.
  np.testing.assert_array_equal(
      np.flatnonzero(preprocess.rows_reaching_crop(32, cfg)), range(4, 28)
  )
  # 240 source rows: 7.5 per resized row; rows [30, 210) map into [4, 28).
  kept = np.flatnonzero(preprocess.rows_reaching_crop(240, cfg))
  assert kept[0] == 30 and kept[-1] == 209
  # 360 rows: 11.25 per resized row; row 44 covers [3.91, 4.0): outside; row 45 inside.
  kept = np.flatnonzero(preprocess.rows_reaching_crop(360, cfg))
  assert kept[0] == 45 and kept[-1] == 314


def test_crop_is_centred():
  cfg = preprocess.PreprocessConfig(gamma=1.0)
  pre = preprocess.FramePreprocessor(cfg)
  frame = np.tile(np.arange(SIZE, dtype=np.uint8)[:, None] * 4, (1, SIZE))  # Row index encoded.
  gray, _ = pre(frame)
  np.testing.assert_array_equal(gray[:, 0, 0], np.arange(4, 28) * 4)


@pytest.mark.parametrize("xp", [np, jnp])
def test_hflip_mirrors_and_negates_x(xp):
  rng = np.random.default_rng(0)
  gray = xp.asarray(rng.integers(0, 256, (2, 3, 24, 32, 1), dtype=np.uint8))
  flow = xp.asarray(rng.random((2, 3, 24, 32, 2), dtype=np.float32))
  fgray, fflow = preprocess.hflip(gray, flow)
  fgray, fflow, gray, flow = map(np.asarray, (fgray, fflow, gray, flow))
  np.testing.assert_array_equal(fgray, gray[..., ::-1, :])
  np.testing.assert_allclose(fflow[..., 0], 1.0 - flow[..., ::-1, 0], atol=1e-7)
  np.testing.assert_array_equal(fflow[..., 1], flow[..., ::-1, 1])
  # Flipping twice is the identity; a rightward move (x > 0.5) becomes leftward (x < 0.5).
  np.testing.assert_allclose(
      np.asarray(preprocess.hflip(*preprocess.hflip(gray, flow))[1]), flow, atol=1e-6
  )
  assert np.all((fflow[..., 0] < 0.5) == (flow[..., ::-1, 0] > 0.5))


def test_preprocess_video_pieces_equal_one_pass(tmp_path):
  frames = [square_frame(2 + t, size=64) for t in range(12)]
  path = fakes.write_video(tmp_path / "sq.avi", frames)
  cfg = preprocess.PreprocessConfig()
  whole = list(preprocess.preprocess_video(path, cfg))
  assert inspect.isgenerator(preprocess.preprocess_video(path, cfg))
  pieces = list(preprocess.preprocess_video(path, cfg, 0, 5)) + list(
      preprocess.preprocess_video(path, cfg, 5)
  )
  assert [i for i, _, _ in whole] == list(range(12)) == [i for i, _, _ in pieces]
  for (_, g1, f1), (_, g2, f2) in zip(whole, pieces):
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(f1, f2)
  assert np.abs(whole[6][2] - 0.5).max() > 0.05  # The square moves: the flow is not all 0.5.


@pytest.mark.parametrize(
    "height,width,num_passes",
    [(240, 320, 2), (360, 640, 2), (480, 640, 1), (250, 330, 1), (240, 32, 1)],
)
def test_two_pass_resize_within_one_grey_level(height, width, num_passes):
  passes = preprocess.area_resize_passes((height, width), (SIZE, SIZE))
  assert len(passes) == num_passes and passes[-1] == (SIZE, SIZE)
  one_call = preprocess.area_resize_passes((height, width), (SIZE, SIZE), preprocess.RESIZE_AREA)
  rng = np.random.default_rng(height)
  for _ in range(5):
    frame = cv2.GaussianBlur(rng.integers(0, 256, (height, width), dtype=np.uint8), (5, 5), 1)
    fast = preprocess.area_resize(frame, passes).astype(int)
    exact = cv2.resize(frame, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(int)
    np.testing.assert_array_equal(preprocess.area_resize(frame, one_call), exact)
    assert np.abs(fast - exact).max() <= 1
    if num_passes == 1:  # One call: OpenCV's INTER_AREA exactly.
      np.testing.assert_array_equal(fast, exact)


def test_resize_method_is_validated_and_area_is_exact():
  with pytest.raises(ValueError, match="resize_method"):
    preprocess.PreprocessConfig(resize_method="bilinear")
  frame = np.random.default_rng(0).integers(0, 256, (240, 320), dtype=np.uint8)
  pre = preprocess.FramePreprocessor(preprocess.PreprocessConfig(resize_method="area", gamma=1.0))
  exact = cv2.resize(frame, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
  np.testing.assert_array_equal(pre.process_frame(frame), exact)


def test_translating_square_flow_after_two_pass_resize():
  # 320x240 frames (7.5x / 10x shrink, two passes): a square moving 10 px per frame moves 1 px at
  # 32x32.
  cfg = preprocess.PreprocessConfig(gamma=1.0, flow_scale_px=4.0)
  pre = preprocess.FramePreprocessor(cfg)
  big = [
      cv2.resize(square_frame(4 + t), (320, 240), interpolation=cv2.INTER_NEAREST) for t in range(5)
  ]
  for frame in big[:-1]:
    pre(frame)
  displacement = pre.raw_flow(pre.process_frame(big[-1]))
  inside = displacement[13:19, 9:15]  # Inside the last square (rows 12-19, columns 8-15).
  assert inside[..., 0].mean() == pytest.approx(1.0, abs=0.3)
  assert abs(inside[..., 1].mean()) < 0.2


def test_farneback_levels_have_no_effect_at_32x32():
  # Documented: OpenCV builds no pyramid level below 32 pixels, so levels 1 and 3 are the same.
  a, b = square_frame(4), square_frame(6)
  flows = []
  for levels in (1, 3):
    pre = preprocess.FramePreprocessor(preprocess.PreprocessConfig(farneback_levels=levels))
    pre(a)
    flows.append(pre.raw_flow(pre.process_frame(b)))
  np.testing.assert_array_equal(*flows)
  assert np.abs(flows[0]).max() > 0.5  # The square moved: a real flow, not zeros.


def _square_video(tmp_path, num_frames=12):
  frames = [square_frame(2 + t, size=64) for t in range(num_frames)]
  return fakes.write_video(tmp_path / "sq.avi", frames)


def test_decode_ahead_gives_identical_arrays(tmp_path):
  path = _square_video(tmp_path)
  cfg = preprocess.PreprocessConfig()
  plain = list(preprocess.preprocess_video(path, cfg, 3, 10))
  ahead = list(preprocess.preprocess_video(path, cfg, 3, 10, decode_ahead=2))
  assert [i for i, _, _ in ahead] == [i for i, _, _ in plain] == list(range(3, 10))
  for (_, g1, f1), (_, g2, f2) in zip(plain, ahead):
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(f1, f2)


def test_decode_ahead_errors_and_early_close(tmp_path):
  with pytest.raises(video.VideoNotFoundError, match=r"absent\.avi"):
    list(
        preprocess.preprocess_video(
            tmp_path / "absent.avi", preprocess.PreprocessConfig(), decode_ahead=2
        )
    )
  before = threading.active_count()
  frames = preprocess.preprocess_video(
      _square_video(tmp_path), preprocess.PreprocessConfig(), decode_ahead=1
  )
  next(frames)
  frames.close()  # The decode thread, blocked on a full queue, must stop and be joined.
  assert threading.active_count() == before


def test_throughput_benchmark_smoke(tmp_path):
  # Keeps benchmarks/data_throughput.py in step with the library (a benchmark nobody runs goes
  # stale).
  from benchmarks import data_throughput  # pylint: disable=import-outside-toplevel

  path = data_throughput.write_synthetic(tmp_path / "s.mpg", num_frames=10, fourcc="PIM1")
  rates = data_throughput.measure_rates(path, repeats=1)
  assert rates["gray_mode"] == "luma" and rates["frames"] > 0
  assert min(rates[f"{mode}_fps"] for mode in data_throughput.MODES) > 0
  stages = {"resize_passes": [[32, 240], [32, 32]], "farneback": 1.0}
  results = {
      "videos": {
          "s": {
              **rates,
              "two_processes_fps": 1.0,
              "speedup": 1.0,
              "speedup_cpu_estimate": 1.0,
              "stages_cpu_us": stages,
          }
      },
      "rss_long_synthetic_320x240": {
          "frames": 10,
          "rss_first_mb": 1.0,
          "rss_last_mb": 1.0,
          "peak_rss_mb": 1.0,
          "growth_mb_per_1000_frames": 0.0,
          "extrapolated_one_hour_mb": 1.0,
      },
  }
  table = data_throughput.format_table(results)
  assert f"| s | {rates['frames']} | luma |" in table and "| farneback |" in table
