# The program the command objective's tests sweep: a made-up learning curve,
# with switches for each way a program can go wrong. Every report and every
# checkpoint it writes is logged to $LOG_DIR/<trial id>.log, so the tests can
# compare what sweep stored with what the program did.
import hashlib
import json
import os
import subprocess
import sys
import time

from sweep_client import Trial

trial = Trial()
p = trial.params
log_path = os.path.join(os.environ["LOG_DIR"], trial.id + ".log")
curve = [0.5, 0.7, 0.6, 0.8, 0.8, 0.75, 0.9, 0.85]
print("starting trial", trial.id, "seed", trial.seed, flush=True)
if p.get("grandchild"):
    child = subprocess.Popen(["sleep", "300"])
    with open(os.path.join(os.environ["LOG_DIR"], trial.id + ".grandchild"), "w") as f:
        f.write(str(child.pid))
if p.get("silent"):
    sys.exit(0)
for epoch in range(1, p["epochs"] + 1):
    time.sleep(p.get("sleep", 0.0))
    if epoch == p.get("crash", 0):
        print("boom at epoch %d" % epoch, file=sys.stderr, flush=True)
        sys.exit(3)
    score = curve[(epoch - 1) % len(curve)] + p.get("shift", 0.0)
    metrics = {"accuracy": score, "train_loss": 1.0 / epoch + p.get("shift", 0.0)}
    if epoch == p.get("nan_at", 0):
        metrics["accuracy"] = float("nan")
    if p.get("outputs"):
        # Two classes, six rows: the score decides how many rows the logits get right.
        right = int(round(score * 6)) if score < 1 else 6
        targets = [0, 1, 0, 1, 0, 1]
        outputs = [[1.0, 0.0] if (t == 0) == (i < right) else [0.0, 1.0] for i, t in enumerate(targets)]
        decision = trial.report(epoch, {"train_loss": metrics["train_loss"]}, outputs=outputs, targets=targets)
    else:
        decision = trial.report(epoch, metrics)
    with open(log_path, "a") as log:
        log.write(json.dumps({"epoch": epoch, "metrics": metrics, "save": decision.save, "stop": decision.stop}) + "\n")
    if decision.save and not p.get("forget_to_save"):
        data = ("trial %s epoch %d score %r seed %d\n" % (trial.id, epoch, score, trial.seed)).encode()
        with open(decision.checkpoint_path, "wb") as f:
            f.write(data)
        with open(log_path, "a") as log:
            log.write(json.dumps({"saved": epoch, "sha256": hashlib.sha256(data).hexdigest()}) + "\n")
    if decision.stop:
        break
