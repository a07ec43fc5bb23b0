# The `[command] predict` of the command objective's tests: reads a checkpoint
# command_prog.py wrote and writes the outputs that program reported at that
# epoch, to the file sweep names. The trial's parameter `predict` picks a way
# to go wrong: "wrong" changes one row's outputs, "fail" exits 5.
import json
import os
import sys

checkpoint, output = sys.argv[1], sys.argv[2]
mode = json.loads(os.environ["SWEEP_PARAMS"]).get("predict", "")
if mode == "fail":
    print("predict: cannot load the model", file=sys.stderr, flush=True)
    sys.exit(5)
with open(checkpoint) as f:
    score = float(f.read().split(" score ")[1].split()[0])
right = int(round(score * 6)) if score < 1 else 6
targets = [0, 1, 0, 1, 0, 1]
outputs = [[1.0, 0.0] if (t == 0) == (i < right) else [0.0, 1.0] for i, t in enumerate(targets)]
if mode == "wrong":
    outputs[5] = [0.25, 0.75]
with open(output, "w") as f:
    json.dump({"outputs": outputs}, f)
