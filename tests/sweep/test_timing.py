from edgebench.sweep.worker import timed_loop, warm_up


class FakeClock(object):
    """Advances by ``step`` seconds on each call of run()."""

    def __init__(self, step):
        self.now = 100.0
        self.step = step
        self.calls = 0

    def __call__(self):
        return self.now

    def run(self):
        self.calls += 1
        self.now += self.step


def test_stops_only_when_both_iterations_and_duration_are_met():
    clock = FakeClock(0.125)
    durations, wall, start, end = timed_loop(clock.run, iterations=5, duration_s=2.0, max_duration_s=None,
                                             clock=clock)
    assert len(durations) == 16 and wall == 2.0


def test_iteration_minimum_dominates_for_slow_models():
    clock = FakeClock(1.0)
    durations, wall, _, _ = timed_loop(clock.run, iterations=10, duration_s=3.0, max_duration_s=None,
                                       clock=clock)
    assert len(durations) == 10 and abs(wall - 10.0) < 1e-9


def test_max_duration_caps_the_loop():
    clock = FakeClock(1.0)
    durations, wall, _, _ = timed_loop(clock.run, iterations=100, duration_s=3.0, max_duration_s=5.0,
                                       clock=clock)
    assert len(durations) == 5


def test_durations_add_up_to_the_window():
    clock = FakeClock(0.25)
    durations, wall, start, end = timed_loop(clock.run, 3, 0.0, None, clock=clock)
    assert abs(sum(durations) - (end - start)) < 1e-12 and wall == end - start


def test_warm_up_runs_at_least_once_even_with_zero_time():
    clock = FakeClock(0.01)
    assert warm_up(clock.run, 0.0, clock=clock) == 1


def test_warm_up_runs_for_the_requested_time():
    clock = FakeClock(0.0625)
    assert warm_up(clock.run, 0.25, clock=clock) == 4


def test_the_first_run_counts_towards_the_warm_up_time():
    clock = FakeClock(0.0625)
    first_start = clock.now - 0.125  # the first run began 125 ms ago
    assert warm_up(clock.run, 0.25, clock=clock, since=first_start) == 2


def test_a_first_run_longer_than_the_warm_up_needs_no_warm_up_run():
    clock = FakeClock(1.0)
    assert warm_up(clock.run, 0.2, clock=clock, since=clock.now - 1.0) == 0


def test_ticks_run_between_iterations_and_their_time_is_not_timed():
    clock = FakeClock(0.125)
    ticks = []

    def tick():
        ticks.append(clock.now)
        clock.now += 1.0  # a slow memory read: must not count as inference time

    durations, wall, start, end = timed_loop(clock.run, iterations=4, duration_s=1.0, max_duration_s=None,
                                             clock=clock, on_tick=tick, tick_s=0.25)
    assert ticks and all(d == 0.125 for d in durations)
    assert len(durations) == 8 and wall == sum(durations) == 1.0
