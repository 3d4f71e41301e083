"""``edgebench monitor``: a live terminal screen of the agent, or of the board's sensors alone.

Attached (the default): polls the agent's status snapshot over its socket (``--state-dir`` /
``--socket``) and renders it; the agent reads the sensors, the monitor reads nothing else, so it
never slows a measurement. When no agent answers it shows the spool and the results store on disk.

Standalone (``--power URL``): no agent; the monitor itself samples the power source (``none`` for
board sensors only) and reads memory, temperatures and clocks under ``--root``.

``--once`` prints one frame and exits (``--json`` prints the snapshot instead).
"""
import os
import time

from edgebench.cliutil import add_json_argument, non_negative_float, positive_float


def register(subparsers):
    parser = subparsers.add_parser(
        "monitor",
        help="live screen: the agent's job, point, progress and ETA, board power, memory, temperatures",
        description="Show the agent's current job and point, progress and ETA, live board power per rail with "
        "a short history, net power against the idle baseline, memory, temperatures, clocks and the last "
        "measurements. With --power URL it runs without an agent and shows the board's sensors only.",
    )
    parser.add_argument("--state-dir", metavar="DIR",
                        help="the agent's state directory (default $EDGEBENCH_STATE_DIR or /var/lib/edgebench)")
    parser.add_argument("--socket", metavar="PATH", help="the agent's socket (default <state-dir>/agent.sock)")
    parser.add_argument("--power", metavar="URL",
                        help="standalone: sample this power source here (auto, ina3221, sim://..., none) "
                        "instead of attaching to an agent")
    parser.add_argument("--root", metavar="DIR", default=None,
                        help="standalone: filesystem root board sensors are read under (default $EDGEBENCH_ROOT or /)")
    parser.add_argument("--idle-w", type=non_negative_float, metavar="W",
                        help="standalone: idle board power to subtract for net power")
    parser.add_argument("--idle-seconds", type=positive_float, metavar="SECONDS",
                        help="standalone: measure the idle baseline for this long first (keep the board idle)")
    parser.add_argument("--refresh", type=positive_float, default=1.0, metavar="SECONDS",
                        help="seconds between frames (default 1)")
    parser.add_argument("--once", action="store_true", help="print one frame and exit")
    add_json_argument(parser)
    parser.set_defaults(func=run)


class AgentView(object):
    """Snapshots from the agent (or from disk when it is not running)."""

    def __init__(self, state_dir, socket_path):
        from edgebench.agent.client import AgentClient

        self.client = AgentClient(state_dir, socket_path, timeout_s=5.0)

    def snapshot(self):
        return self.client.status()

    def close(self):
        pass


class StandaloneView(object):
    """Snapshots built here: board sensors under ``root`` and, unless ``none``, a power source."""

    def __init__(self, power_url, root=None, idle_w=None, history_points=60):
        from edgebench.agent.sensors import BoardReader, PowerFeed

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
        from edgebench.agent.status import empty_snapshot

        snap = empty_snapshot(".", None)
        snap["agent"].update(state="standalone", state_dir=None, store=None)
        if self.feed is not None:
            self.feed.update()
        snap["sensors"] = {"board": self.board.read(), "power": self.feed.snapshot() if self.feed else None}
        return snap

    def close(self):
        if self.feed is not None:
            self.feed.close()


def _view(args):
    from edgebench.errors import UsageError

    if args.power:
        if args.state_dir or args.socket:
            raise UsageError("--power runs the monitor without an agent; attached to an agent (--state-dir, "
                             "--socket) it shows the agent's own power readings: drop one of them")
        root = args.root or os.environ.get("EDGEBENCH_ROOT") or None
        view = StandaloneView(args.power, root=root, idle_w=args.idle_w)
        if args.idle_seconds:
            view.measure_idle(args.idle_seconds)
        return view
    if args.idle_w is not None or args.idle_seconds or args.root:
        raise UsageError("--idle-w, --idle-seconds and --root apply to the standalone monitor (--power URL); attached "
                         "to an agent the baseline comes from the agent")
    from edgebench.agent.client import default_state_dir

    return AgentView(args.state_dir or default_state_dir(), args.socket)


def run(args):
    from edgebench.cliutil import console, emit_json
    from edgebench.monitor.render import render

    view = _view(args)
    try:
        if args.once:
            if isinstance(view, StandaloneView):
                view.warm_up()
            snap = view.snapshot()
            if args.json:
                emit_json(snap)
            else:
                console().print(render(snap))
            return 0
        return _live(view, args.refresh, render)
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
