"""tools/progress.py: one compact line per epoch (or every N epochs) with the ETA."""

import io

import pytest

from tools.progress import EpochLines, format_duration


class Clock:
    """A clock that each epoch moves by the next of `durations` (seconds)."""

    def __init__(self, durations):
        self.durations, self.now, self.epoch = list(durations), 0.0, 0

    def __call__(self):
        return self.now

    def run_epoch(self):
        self.now += self.durations[self.epoch]
        self.epoch += 1


def _train(callback, clock, epochs, initial_epoch=0):
    for epoch in range(initial_epoch, epochs):
        callback.on_epoch_begin(epoch)
        clock.run_epoch()
        callback.on_epoch_end(epoch, {"loss": 2.0 / (epoch + 1), "accuracy": epoch / 10})


@pytest.mark.parametrize(
    "seconds, text", [(0, "0:00"), (59.6, "1:00"), (65, "1:05"), (3725, "1:02:05")]
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_first_every_nth_and_last_epoch_with_elapsed_time_and_eta():
    # The first epoch also compiles (5 s), the others take 1 s: the ETA leaves it out.
    clock, stream = Clock([5, 1, 1, 1, 1, 1, 1]), io.StringIO()
    _train(EpochLines(7, every=3, stream=stream, clock=clock), clock, 7)
    assert stream.getvalue().splitlines() == [
        "epoch 1/7  loss 2  accuracy 0  0:05",
        "epoch 3/7  loss 0.6667  accuracy 0.2  0:07, ETA 0:04",
        "epoch 6/7  loss 0.3333  accuracy 0.5  0:10, ETA 0:01",
        "epoch 7/7  loss 0.2857  accuracy 0.6  0:11, ETA 0:00",
    ]


def test_every_epoch_of_a_resumed_run_counts_from_where_it_resumed():
    clock, stream = Clock([2, 2, 2]), io.StringIO()
    _train(EpochLines(12, stream=stream, clock=clock), clock, 10, initial_epoch=7)
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["8/12", "9/12", "10/12"]
    assert lines[0].endswith("  0:02") and lines[-1].endswith("  0:06, ETA 0:04")


@pytest.mark.parametrize("every", [0, -1, 1.5])
def test_every_must_be_a_positive_number_of_epochs(every):
    with pytest.raises(ValueError, match=f"positive integer.*Received: every={every}"):
        EpochLines(10, every=every)
