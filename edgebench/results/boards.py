"""Which board a run was measured on, from its recorded environment (``runs.environment_json``).

A board is named by its host name (what a lab calls its boards apart; two AGX Orins differ only
there), else by its device-tree model, else by the CPU of a machine that is not a Jetson.
"""


def board_label(environment):
    env = environment or {}
    board = env.get("board") or {}
    return env.get("host") or board.get("model") or board.get("name") or env.get("cpu") or "unknown board"


def board_model(environment):
    board = (environment or {}).get("board") or {}
    return board.get("model") or board.get("name")


def board_matches(environment, wanted):
    """True when ``wanted`` (case-insensitive) is the run's host, board model or board name."""
    env = environment or {}
    board = env.get("board") or {}
    names = (board_label(env), env.get("host"), board.get("model"), board.get("name"))
    return wanted.strip().lower() in set(str(n).lower() for n in names if n)
