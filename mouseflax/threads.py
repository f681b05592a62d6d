"""Pipeline stages in background threads, joined by bounded queues (decode -> preprocess -> model).

`background(make_iter, maxsize, stop)` runs one stage: `make_iter()` iterates in a daemon thread and
its items reach the caller through a queue of at most `maxsize` items, so memory stays bounded while
the stages overlap (OpenCV and XLA release the GIL). Stages chain: a stage's `make_iter` may iterate
another stage's output. All stages of one pipeline share one `stop` event.

The guarantees, which a test holds:
- A producer's exception is re-raised in its consumer, always: the final item of a stage (its end or
  its failure) is delivered even after `stop` is set (queued data is then dropped to make room).
- The consumer never blocks forever: it polls, and raises when its producer thread is gone without a
  final item.
- A consumer that stops early, or fails, sets `stop`: every producer then ends within a poll, and a
  stage whose own input stopped raises `PipelineStopped` to its consumer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import dataclasses
import queue
import threading
from typing import Any

POLL_S = 0.1  # How often a blocked producer or consumer checks the other side.
JOIN_TIMEOUT_S = 10.0  # The most a consumer waits for its producer thread to end when it stops.
THREAD_NAME = "mouseflax-stage"


class PipelineStopped(RuntimeError):
  """A stage ended early because its pipeline was stopped (a consumer gave up or a stage failed)."""


@dataclasses.dataclass(frozen=True)
class _Failure:
  error: BaseException


_END = object()  # The final item of a stage that produced everything.


def _put(items: queue.Queue, item: Any, gone: threading.Event, stop: threading.Event) -> bool:
  """Puts a data item; False when the consumer is gone; PipelineStopped when `stop` is set."""
  while not gone.is_set():
    if stop.is_set():
      raise PipelineStopped("the pipeline was stopped")
    try:
      items.put(item, timeout=POLL_S)
      return True
    except queue.Full:
      continue
  return False


def _put_final(items: queue.Queue, item: Any, gone: threading.Event, stop: threading.Event) -> None:
  """Delivers the stage's final item unless its consumer is gone, whatever `stop` says."""
  while not gone.is_set():
    try:
      items.put(item, timeout=POLL_S)
      return
    except queue.Full:
      if stop.is_set():  # Nobody needs the queued data any more: make room for the final item.
        try:
          items.get_nowait()
        except queue.Empty:
          pass


def _produce(
    make_iter: Callable[[], Iterator[Any]],
    items: queue.Queue,
    gone: threading.Event,
    stop: threading.Event,
) -> None:
  """The thread's body: every item, then _END or the failure."""
  iterator = None
  try:
    iterator = make_iter()
    for item in iterator:
      if not _put(items, item, gone, stop):
        return
    final = _END
  except BaseException as error:  # pylint: disable=broad-exception-caught  # Re-raised by consumer.
    final = _Failure(error)
  finally:
    if iterator is not None:
      getattr(iterator, "close", lambda: None)()  # E.g. a VideoCapture, released in its thread.
  _put_final(items, final, gone, stop)


def _get(items: queue.Queue, thread: threading.Thread) -> Any:
  """The next item; raises instead of waiting for a producer thread that is gone."""
  while True:
    try:
      return items.get(timeout=POLL_S)
    except queue.Empty:
      if not thread.is_alive() and items.empty():
        raise PipelineStopped(f"{thread.name} ended without a result") from None


def background(
    make_iter: Callable[[], Iterator[Any]], maxsize: int, stop: threading.Event | None = None
) -> Iterator[Any]:
  """Yields the items of `make_iter()`, run in a background thread up to `maxsize` items ahead.

  Args:
    make_iter: called in the thread; its iterator is closed there when the stage ends.
    maxsize: the most items waiting in the queue (> 0).
    stop: shared by the stages of one pipeline (module docstring); None: this stage alone.

  Raises:
    Whatever `make_iter()` or its iterator raised; PipelineStopped when the pipeline was stopped.
  """
  stop = threading.Event() if stop is None else stop
  items: queue.Queue = queue.Queue(maxsize)
  gone = threading.Event()  # This stage's consumer stopped reading.
  thread = threading.Thread(
      target=_produce, args=(make_iter, items, gone, stop), name=THREAD_NAME, daemon=True
  )
  thread.start()
  finished = False
  try:
    while (item := _get(items, thread)) is not _END:
      if isinstance(item, _Failure):
        raise item.error
      yield item
    finished = True
  finally:
    gone.set()
    if not finished:  # Failed or gave up: stop every stage of the pipeline.
      stop.set()
    thread.join(JOIN_TIMEOUT_S)
