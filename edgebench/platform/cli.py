"""``edgebench doctor``: registered by :mod:`edgebench.cli`; imports nothing heavy until it runs."""
from edgebench.cliutil import add_json_argument, add_root_argument, emit_json


def register(subparsers):
    parser = subparsers.add_parser(
        "doctor",
        help="check this machine for benchmarking: board, JetPack, TensorRT, clocks, power sensors",
        description="Report the board (or 'not a Jetson'), L4T/JetPack, Python and the TensorRT, pycuda, "
        "cuda-python, ONNX Runtime, torch, torchvision and torch2trt versions, fast FP16/INT8 support, "
        "power sensors, nvpmodel mode, clock locking, memory and temperatures, with the command that fixes "
        "each problem. Exit status 0 when no check reports an error, 1 otherwise.",
    )
    add_root_argument(parser)
    add_json_argument(parser)
    parser.set_defaults(func=run)
    return parser


def run(args):
    from edgebench.platform.doctor import diagnose, render

    report = diagnose(root=args.root)
    if args.json:
        emit_json(report)
    else:
        render(report)
    return report["exit_status"]
