"""``edgebench service install|uninstall|show``: put the agent's systemd unit in place, by command.

Nothing is installed by ``pip``/``setup.py``: the unit ships as package data
(``edgebench/systemd/edgebench-agent.service`` and ``edgebench.sysusers``) and this command copies
it, with ``ExecStart=`` pointing at the Python that runs it (``<sys.executable> -m edgebench agent``,
so a virtual environment works), writes the sysusers file and runs ``systemd-sysusers`` (creates the
``edgebench`` user) and ``systemctl daemon-reload``. It prints every step; ``--dry-run`` prints them
and changes nothing. ``--prefix``/``--unit-dir``/``--sysusers-dir`` put the files elsewhere (tests
install into a temporary directory with fake ``systemctl`` and ``systemd-sysusers`` on ``PATH``).
"""
import os
import shutil
import subprocess
import sys

from edgebench.errors import EdgebenchError, UsageError

UNIT_NAME = "edgebench-agent.service"
SYSUSERS_NAME = "edgebench.conf"
PACKAGE_UNIT = "systemd/edgebench-agent.service"
PACKAGE_SYSUSERS = "systemd/edgebench.sysusers"
COMMAND_TIMEOUT_S = 60


def register(subparsers):
    parser = subparsers.add_parser(
        "service",
        help="install or remove the agent's systemd unit (edgebench-agent.service)",
        description="Install the edgebench agent as a systemd service: copies the packaged unit with "
        "ExecStart= set to this Python, creates the edgebench user (systemd-sysusers) and reloads systemd. "
        "Run it as root.",
    )
    sub = parser.add_subparsers(dest="service_command", metavar="ACTION")
    for name, helptext, func in (
        ("install", "install the unit and the edgebench user, then systemctl daemon-reload", run_install),
        ("uninstall", "stop and disable the service, remove the unit (results and the user are kept)", run_uninstall),
        ("show", "print the unit as install would write it", run_show),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--python", metavar="PATH", default=sys.executable,
                       help="interpreter for ExecStart= (default: this one, {})".format(sys.executable))
        if name != "show":
            p.add_argument("--prefix", metavar="DIR", default="/",
                           help="install under this root (default /)")
            p.add_argument("--unit-dir", metavar="DIR", help="unit directory (default <prefix>/etc/systemd/system)")
            p.add_argument("--sysusers-dir", metavar="DIR",
                           help="sysusers directory (default <prefix>/etc/sysusers.d)")
            p.add_argument("--dry-run", action="store_true", help="print what would be done; change nothing")
        p.set_defaults(func=func)
    parser.set_defaults(func=lambda args: _help(parser))


def _help(parser):
    parser.print_help(sys.stderr)
    return 2


def package_text(name):
    import pkgutil

    data = pkgutil.get_data("edgebench", name)
    if data is None:
        raise EdgebenchError("{} is missing from the edgebench package; reinstall edgebench".format(name))
    return data.decode("utf-8")


def _quote(path):
    if any(c in path for c in " \t\"'\\"):
        return '"{}"'.format(path.replace("\\", "\\\\").replace('"', '\\"'))
    return path


def render_unit(python=None):
    """The unit text with ``ExecStart=`` set to ``<python> -m edgebench agent``."""
    python = os.path.abspath(python or sys.executable)
    lines = package_text(PACKAGE_UNIT).splitlines(True)
    out = []
    for line in lines:
        if line.startswith("ExecStart="):
            line = "ExecStart={} -m edgebench agent\n".format(_quote(python))
        out.append(line)
    return "".join(out)


def _paths(args):
    prefix = os.path.abspath(args.prefix)
    unit_dir = args.unit_dir or os.path.join(prefix, "etc/systemd/system")
    sysusers_dir = args.sysusers_dir or os.path.join(prefix, "etc/sysusers.d")
    return os.path.join(unit_dir, UNIT_NAME), os.path.join(sysusers_dir, SYSUSERS_NAME)


class _Steps(object):
    def __init__(self, dry_run, out=None):
        self.dry_run = dry_run
        self.out = out or sys.stdout
        self.warnings = []

    def say(self, text):
        self.out.write(("would " if self.dry_run else "") + text + "\n")
        self.out.flush()

    def write(self, path, text, mode=0o644):
        try:
            with open(path, "r", encoding="utf-8") as fh:
                if fh.read() == text:
                    self.say("keep {} (unchanged)".format(path))
                    return False
        except (OSError, UnicodeDecodeError):
            pass
        self.say("write {}".format(path))
        if self.dry_run:
            return True
        directory = os.path.dirname(path)
        tmp = os.path.join(directory, ".{}.tmp-{}".format(os.path.basename(path), os.getpid()))
        try:
            os.makedirs(directory, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except OSError as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise _permission_hint(path, exc)
        return True

    def remove(self, path):
        if not os.path.lexists(path):
            self.say("skip {} (not installed)".format(path))
            return False
        self.say("remove {}".format(path))
        if not self.dry_run:
            try:
                os.unlink(path)
            except OSError as exc:
                raise _permission_hint(path, exc)
        return True

    def run(self, argv, required=True):
        """Run a command if its program exists; a missing program is a warning, a failure an error."""
        text = " ".join(argv)
        if shutil.which(argv[0]) is None:
            self.warnings.append("{} not found: run `{}` yourself where systemd is available".format(argv[0], text))
            self.say("skip `{}` ({} not found)".format(text, argv[0]))
            return None
        self.say("run `{}`".format(text))
        if self.dry_run:
            return 0
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
            output, _ = proc.communicate(timeout=COMMAND_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EdgebenchError("`{}` failed: {}".format(text, exc))
        if proc.returncode != 0:
            tail = " ".join((output or "").strip().splitlines()[-3:])
            message = "`{}` exited with status {}: {}".format(text, proc.returncode, tail or "no output")
            if required:
                raise EdgebenchError(message)
            self.warnings.append(message)
        return proc.returncode


def _permission_hint(path, exc):
    return UsageError("cannot change {}: {}; run it as root: sudo {} -m edgebench service ...".format(
        path, exc.strerror or exc, sys.executable))


def _python_warnings(python):
    python = os.path.abspath(python)
    notes = []
    if python.startswith(("/home/", "/root/", "/run/user/")):
        notes.append("{} is under a home directory, which ProtectHome=yes hides from the service: install edgebench "
                     "in a system location (e.g. a venv in /opt/edgebench) or set ProtectHome=read-only in a drop-in "
                     "(sudo systemctl edit edgebench-agent)".format(python))
    if not os.access(python, os.X_OK):
        notes.append("{} is not executable".format(python))
    return notes


def run_install(args):
    steps = _Steps(args.dry_run)
    unit_path, sysusers_path = _paths(args)
    steps.write(unit_path, render_unit(args.python))
    steps.write(sysusers_path, package_text(PACKAGE_SYSUSERS))
    if os.path.abspath(args.prefix) == "/":
        steps.run(["systemd-sysusers", sysusers_path], required=False)
    else:
        steps.say("skip `systemd-sysusers` (staged install under --prefix {}: run it on the target)".format(
            args.prefix))
    steps.run(["systemctl", "daemon-reload"])
    for note in _python_warnings(args.python) + steps.warnings:
        sys.stderr.write("warning: {}\n".format(note))
    if not args.dry_run:
        print("next: sudo systemctl enable --now edgebench-agent")
        print("      sudo usermod -aG edgebench $USER   (then log in again) to submit jobs and read results")
    return 0


def run_uninstall(args):
    steps = _Steps(args.dry_run)
    unit_path, sysusers_path = _paths(args)
    if os.path.lexists(unit_path):
        steps.run(["systemctl", "disable", "--now", UNIT_NAME], required=False)
    steps.remove(unit_path)
    steps.remove(sysusers_path)
    steps.run(["systemctl", "daemon-reload"])
    for note in steps.warnings:
        sys.stderr.write("warning: {}\n".format(note))
    if not args.dry_run:
        print("kept: the edgebench user and /var/lib/edgebench (results, cache, jobs); remove them by hand if you "
              "want them gone")
    return 0


def run_show(args):
    sys.stdout.write(render_unit(args.python))
    return 0
