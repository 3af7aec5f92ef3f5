"""One pbt segment for the tests: continues a line's state from $KUBETUNE_RESTORE_DIR, trains
to --until (${trial.budget}), leaves its state in $KUBETUNE_CHECKPOINT_DIR.

The state is the line's step, its score so far and the trials that trained it (its path), so
a test can check that each segment continued exactly its parent's checkpoint. The gain at step
t is largest for lr near 10 ** -(1 + t / 4): the best rate falls as training goes on.

--fail NAME fails that trial; --no-save NAME leaves that trial's checkpoint folder empty (a
checkpoint lost); --sleep slows every step down.
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import kubetune

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--until", type=int, required=True)
parser.add_argument("--into", required=True, help="${trial.checkpointDir}")
parser.add_argument("--fail", default="")
parser.add_argument("--no-save", default="")
parser.add_argument("--sleep", type=float, default=0.0)
args = parser.parse_args()

trial = os.environ["KUBETUNE_TRIAL"]
if args.into != os.environ["KUBETUNE_CHECKPOINT_DIR"]:
    sys.exit(f"${{trial.checkpointDir}} {args.into} is not $KUBETUNE_CHECKPOINT_DIR")
restore = os.environ.get("KUBETUNE_RESTORE_DIR")
if restore:
    state = json.loads((Path(restore) / "state.json").read_text())
    print(f"{trial} continues {state['path'][-1]} at step {state['step']}", flush=True)
else:
    state = {"step": 0, "score": 0.0, "path": []}
if trial == args.fail:
    sys.exit(f"{trial}: failing as asked")
while state["step"] < args.until:
    state["step"] += 1
    best = -1.0 - state["step"] / 4.0
    state["score"] += math.exp(-((math.log10(args.lr) - best) ** 2) / 0.5)
    kubetune.report(step=state["step"], score=state["score"])
    time.sleep(args.sleep)
state["path"].append(trial)
folder = Path(os.environ["KUBETUNE_CHECKPOINT_DIR"])
if trial != args.no_save:
    (folder / "state.json").write_text(json.dumps(state))
