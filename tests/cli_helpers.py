import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def edgebench(*args, **kw):
    """Run ``python -m edgebench ARGS`` in a real subprocess; return CompletedProcess (text)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(kw.pop("env", {}))
    return subprocess.run(
        [sys.executable, "-m", "edgebench"] + [str(a) for a in args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        env=env,
        timeout=kw.pop("timeout", 300),
        **kw
    )


def edgebench_json(*args, **kw):
    proc = edgebench(*args, **kw)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
