"""mouseflax.threads: items in order, failures never dropped, no consumer left waiting."""

from collections.abc import Callable, Iterator
import threading
import time

from mouseflax import threads

# Far above what any case here needs (a few polls), far below a hang.
DEADLINE_S = 20.0


def run_bounded(consume: Callable[[], object]) -> dict[str, object]:
  """Runs `consume()` in a thread; fails the test instead of hanging when it does not return."""
  outcome: dict[str, object] = {}

  def target() -> None:
    try:
      outcome["value"] = consume()
    except BaseException as error:  # pylint: disable=broad-exception-caught  # Inspected below.
      outcome["error"] = error

  thread = threading.Thread(target=target, daemon=True)
  thread.start()
  thread.join(DEADLINE_S)
  assert not thread.is_alive(), f"the consumer still waits after {DEADLINE_S} s: a hang"
  return outcome


def fails_after(count: int, error: BaseException) -> Callable[[], Iterator[int]]:
  def make_iter() -> Iterator[int]:
    yield from range(count)
    raise error

  return make_iter


def test_items_arrive_in_order_through_chained_stages():
  stop = threading.Event()
  first = threads.background(lambda: iter(range(100)), 3, stop)
  second = threads.background(lambda: (2 * x for x in first), 2, stop)
  assert run_bounded(lambda: list(second))["value"] == [2 * x for x in range(100)]
  assert not stop.is_set()


def test_a_failure_mid_stream_reaches_the_consumer_through_a_stage_that_stops():
  # The hang this module fixes: the first stage (decoding) fails after k items; the middle stage's
  # read of it fails and stops the pipeline, and its own failure must still reach the consumer.
  stop = threading.Event()
  first = threads.background(fails_after(5, ValueError("decode failed at frame 5")), 2, stop)
  second = threads.background(lambda: (2 * x for x in first), 2, stop)
  outcome = run_bounded(lambda: list(second))
  assert isinstance(outcome.get("error"), ValueError), outcome
  assert "frame 5" in str(outcome["error"])
  assert stop.is_set()


def test_a_failure_is_delivered_even_when_the_queue_is_full_and_the_pipeline_stopped():
  stop = threading.Event()
  stage = threads.background(fails_after(3, KeyError("late")), 2, stop)
  assert next(stage) == 0
  time.sleep(5 * threads.POLL_S)  # Items 1 and 2 fill the queue; the failure waits behind them.
  stop.set()  # As if another stage had failed: queued data may go, the failure may not.
  outcome = run_bounded(lambda: list(stage))
  assert isinstance(outcome.get("error"), KeyError), outcome


def test_a_stage_whose_pipeline_stopped_raises_instead_of_waiting():
  stop = threading.Event()
  never_ending = threads.background(lambda: iter(lambda: 0, 1), 1, stop)
  assert next(never_ending) == 0
  stop.set()
  outcome = run_bounded(lambda: list(never_ending))
  assert isinstance(outcome.get("error"), threads.PipelineStopped), outcome


def test_closing_early_stops_and_joins_every_producer():
  before = threading.active_count()
  stop = threading.Event()
  first = threads.background(lambda: iter(range(10**9)), 2, stop)
  second = threads.background(lambda: (x + 1 for x in first), 2, stop)
  assert next(second) == 1
  second.close()
  deadline = time.monotonic() + DEADLINE_S
  while threading.active_count() > before and time.monotonic() < deadline:
    time.sleep(threads.POLL_S)
  assert threading.active_count() == before and stop.is_set()


def test_the_producers_iterator_is_closed_in_its_thread():
  closed_in = []

  def frames() -> Iterator[int]:
    try:
      yield from range(10)
    finally:
      closed_in.append(threading.current_thread().name)

  stage = threads.background(frames, 1)
  assert next(stage) == 0
  stage.close()
  assert closed_in == [threads.THREAD_NAME]
