"""The live screen: a view (anything with ``snapshot()`` and ``close()``) rendered at a cadence.

Attached to an agent (``edgebench monitor``, a command of the agent's clients) the view
polls the agent's status snapshot; the agent reads the sensors, the monitor reads nothing else, so
it never slows a measurement. :class:`StandaloneView` (``--power URL``) is the view without an
agent: it samples the power source itself (``none`` for board sensors only) and reads memory,
temperatures and clocks under ``root``.
"""
import time


class StandaloneView(object):
    """Snapshots built here: board sensors under ``root`` and, unless ``none``, a power source."""

    def __init__(self, power_url, root=None, idle_w=None, history_points=60):
        from edgebench.platform.sensors import BoardReader
        from edgebench.power.feed import PowerFeed

        self.board = BoardReader(root)
        self.feed = None
        if power_url and power_url != "none":
            self.feed = PowerFeed(power_url, root=root, rate_hz=10.0, history_points=history_points).open()
            if idle_w is not None:
                self.feed.set_idle(idle_w, None, "--idle-w")

    def measure_idle(self, seconds):
        if self.feed is not None:
            idle = self.feed.measure_idle(seconds)
            self.feed.idle_from = "measured for {:g} s at start".format(seconds)
            return idle
        return None

    def warm_up(self, seconds=1.1):
        """Let the sampler collect one reading (for --once)."""
        if self.feed is not None:
            time.sleep(seconds)
            self.feed.update()

    def snapshot(self):
        from edgebench.monitor.snapshot import empty_snapshot

        snap = empty_snapshot(".", None)
        snap["agent"].update(state="standalone", state_dir=None, store=None)
        if self.feed is not None:
            self.feed.update()
        snap["sensors"] = {"board": self.board.read(), "power": self.feed.snapshot() if self.feed else None}
        return snap

    def close(self):
        if self.feed is not None:
            self.feed.close()


def show(view, once=False, as_json=False, refresh_s=1.0):
    """Render ``view`` once (``as_json``: print its snapshot) or live until Ctrl-C; closes the view."""
    from edgebench.cliutil import console, emit_json
    from edgebench.monitor.render import render

    try:
        if once:
            if isinstance(view, StandaloneView):
                view.warm_up()
            snap = view.snapshot()
            if as_json:
                emit_json(snap)
            else:
                console().print(render(snap))
            return 0
        return _live(view, refresh_s, render)
    finally:
        view.close()


def _live(view, refresh_s, render):
    from rich.console import Console
    from rich.live import Live

    con = Console()
    footer = "refresh {:g} s; Ctrl-C to quit".format(refresh_s)
    try:
        with Live(console=con, auto_refresh=False, transient=False, redirect_stdout=False,
                  redirect_stderr=False) as live:
            while True:
                snap = view.snapshot()
                rows = max(3, con.size.height - 26)
                live.update(render(snap, max_results=rows, footer=footer), refresh=True)
                time.sleep(refresh_s)
    except KeyboardInterrupt:
        return 0
