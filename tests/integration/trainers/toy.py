"""A trial for the runner's tests: behaves as `--mode` says, reports a known function of --x.

score(x) = 1 - (x - 0.3)^2, reported at steps 1..--steps (scaled by step/steps), so the best
trial and the stopping rules' verdicts are predictable.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

import kubetune

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, required=True)
parser.add_argument("--mode", default="ok")
parser.add_argument("--steps", type=int, default=1)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--cost", action="store_true", help="also report cost = 10 x")
parser.add_argument("--gate", help="trials from --gate-from on wait for this file to exist")
parser.add_argument("--gate-from", type=int, default=0)
args = parser.parse_args()


def on_term(signum: int, frame: object) -> None:
    print(f"got SIGTERM at pid {os.getpid()}", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
print(f"trial {os.environ.get('KUBETUNE_TRIAL')} x={args.x} mode={args.mode}", flush=True)
if args.mode == "crash":
    print("Traceback: something broke", flush=True)
    sys.exit(3)
if args.mode == "garbage":
    print('kubetune-report {"metrics": {"score": "nan"}}', flush=True)
    time.sleep(30)  # must be stopped by the runner, not waited for
if args.mode == "flaky" and os.environ.get("KUBETUNE_ATTEMPT") == "1":
    print("first attempt: out of memory", flush=True)
    sys.exit(137)
if args.mode == "hang":
    time.sleep(300)  # ended by activeDeadlineSeconds
if args.mode == "orphan":
    # Ignores SIGTERM, says nothing, and leaves a worker of its own: what a killed runner
    # must not leave behind.
    signal.signal(signal.SIGTERM, lambda signum, frame: print("ignoring SIGTERM", flush=True))
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    time.sleep(300)
if args.mode == "silent":
    print("training done, forgot to report", flush=True)
    sys.exit(0)
index = int(os.environ.get("KUBETUNE_TRIAL", "x-0").rsplit("-", 1)[1])
while args.gate and index >= args.gate_from and not os.path.exists(args.gate):
    time.sleep(0.05)  # held until the test opens the gate (a condition, not a duration)
device = os.environ.get("CUDA_VISIBLE_DEVICES")
extra = {"device": float(device)} if device not in (None, "") else {}
if args.cost:
    extra["cost"] = 10 * args.x
for step in range(1, args.steps + 1):
    time.sleep(args.sleep)
    kubetune.report(
        step=step, score=(1 - (args.x - 0.3) ** 2) * step / args.steps, x=args.x, **extra
    )
