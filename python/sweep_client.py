"""sweep_client: the Python side of sweep's command protocol (protocol 1).

Standard library only. sweep puts this file on the PYTHONPATH of every
program it runs; `sweep client python > sweep_client.py` prints it for those
who vendor it. The protocol itself is described in sweep's book, under
reference/command-protocol.

    from sweep_client import Trial
    trial = Trial()
    for epoch in range(1, trial.params["epochs"] + 1):
        ...
        decision = trial.report(epoch, {"valid_loss": vl, "accuracy": acc})
        if decision.save:
            save_model(decision.checkpoint_path)
        if decision.stop:
            break

Run outside sweep (no SWEEP_ADDRESS), Trial() reads --name=value arguments and
report() answers save=False, stop=False, so the script still runs by hand.
"""

import atexit
import json
import math
import os
import socket
import sys

PROTOCOL = 1

__all__ = ["Trial", "Decision", "SweepGone", "PROTOCOL"]


class SweepGone(RuntimeError):
    """sweep closed the connection: it stopped this trial, or was killed."""


class Decision:
    """sweep's answer to one report."""

    __slots__ = ("epoch", "save", "stop", "checkpoint_path")

    def __init__(self, epoch, save, stop, checkpoint_path):
        self.epoch = epoch
        # Write the model to checkpoint_path now: this epoch is the best so far.
        self.save = save
        # Early stopping or pruning ended the trial, or its last epoch was reached.
        self.stop = stop
        self.checkpoint_path = checkpoint_path

    def __repr__(self):
        return "Decision(epoch=%r, save=%r, stop=%r)" % (self.epoch, self.save, self.stop)


def _finite_or_text(value):
    # JSON has no NaN or infinity; sweep reads these strings as the values.
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _value(v):
    if hasattr(v, "item"):
        v = v.item()
    # A class index stays a whole number.
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    return _finite_or_text(v)


def _rows(outputs):
    if hasattr(outputs, "tolist"):
        outputs = outputs.tolist()
    rows = []
    for row in outputs:
        if hasattr(row, "tolist"):
            row = row.tolist()
        if isinstance(row, (list, tuple)):
            rows.append([_value(v) for v in row])
        else:
            rows.append(_value(row))
    return rows


def _params_from_argv(argv):
    params = {}
    for arg in argv:
        if not arg.startswith("--") or "=" not in arg:
            continue
        key, text = arg[2:].split("=", 1)
        for cast in (int, float):
            try:
                params[key] = cast(text)
                break
            except ValueError:
                pass
        else:
            params[key] = {"True": True, "False": False}.get(text, text)
    return params


class Trial:
    """One trial, as sweep started it: its parameters, seed and checkpoint path."""

    def __init__(self):
        env = os.environ
        self.id = env.get("SWEEP_TRIAL_ID", "local")
        self.index = int(env.get("SWEEP_TRIAL_INDEX", "0"))
        self.seed = int(env.get("SWEEP_SEED", "0"))
        self.task = env.get("SWEEP_TASK", "classification")
        self.metric = env.get("SWEEP_METRIC")
        self.goal = env.get("SWEEP_GOAL")
        self.checkpoint_path = env.get("SWEEP_CHECKPOINT")
        if "SWEEP_PARAMS" in env:
            self.params = json.loads(env["SWEEP_PARAMS"])
        else:
            self.params = _params_from_argv(sys.argv[1:])
        self._pending_save = None
        self._sock = None
        self._reader = None
        address = env.get("SWEEP_ADDRESS")
        if address:
            host, port = address.rsplit(":", 1)
            self._sock = socket.create_connection((host, int(port)))
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._reader = self._sock.makefile("rb")
            self._send({"type": "hello", "protocol": PROTOCOL, "token": env.get("SWEEP_TOKEN", "")})
            atexit.register(self.close)

    @property
    def under_sweep(self):
        """Whether sweep runs this program (False when run by hand)."""
        return self._sock is not None

    def _send(self, message):
        data = (json.dumps(message, separators=(",", ":"), allow_nan=False) + "\n").encode()
        try:
            self._sock.sendall(data)
        except OSError as e:
            raise SweepGone("sweep closed the connection: %s" % e) from None

    def _confirm_save(self):
        if self._pending_save is not None:
            self._send({"type": "saved", "epoch": self._pending_save})
            self._pending_save = None

    def report(self, epoch, metrics=None, outputs=None, targets=None, probabilities=None):
        """Reports one epoch (1, 2, 3, ... once each) and returns sweep's Decision.

        metrics: {name: number}, the program's own values, taken as they are.
        outputs + targets: the raw validation outputs (rows of logits per class,
        or one prediction per row for regression) and the true class indices or
        values; sweep then computes its own metrics from them. probabilities
        (rows of class probabilities) may stand in for outputs.
        """
        if probabilities is not None:
            outputs = [[math.log(max(float(p), 1e-300)) for p in row] for row in _rows(probabilities)]
        message = {
            "type": "report",
            "epoch": int(epoch),
            "metrics": {str(k): _finite_or_text(v) for k, v in (metrics or {}).items()},
        }
        if outputs is not None:
            if targets is None:
                raise ValueError("outputs need targets: the true class index or value of each row")
            message["outputs"] = _rows(outputs)
            message["targets"] = _rows(targets)
        if self._sock is None:
            return Decision(int(epoch), False, False, None)
        self._confirm_save()
        self._send(message)
        line = self._reader.readline()
        if not line:
            raise SweepGone("sweep closed the connection before answering epoch %d" % epoch)
        answer = json.loads(line)
        if answer.get("type") == "error":
            raise RuntimeError("sweep refused the report: %s" % answer.get("message"))
        decision = Decision(answer["epoch"], answer["save"], answer["stop"], answer.get("checkpoint_path"))
        if decision.save:
            # sweep takes the file when the next message (or a clean exit) says it is complete.
            self._pending_save = decision.epoch
        return decision

    def close(self):
        """Confirms a last checkpoint and closes the connection (also done at exit)."""
        if self._sock is None:
            return
        try:
            self._confirm_save()
        except SweepGone:
            pass
        try:
            self._sock.close()
        finally:
            self._sock = None
