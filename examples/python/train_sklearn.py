"""scikit-learn's MLPClassifier on the bundled digits, one partial_fit per epoch,
swept by sweep as objective = "command" (train_sklearn.toml, train_sklearn.yaml).

The program owns its data and its split; each epoch it sends sweep its raw
validation outputs (class probabilities) and targets, so sweep computes every
metric of its own table (mcc, accuracy, log loss, ...) and their bootstrap
intervals. sweep answers whether to save the model (the epoch improved the
monitored metric) and whether to stop (early stopping, pruning, last epoch).

Run by hand it trains with the defaults below: python3 train_sklearn.py --lr=0.01
"""

import csv
import os
import pickle
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from sweep_client import Trial

trial = Trial()
here = os.path.dirname(os.path.abspath(__file__))
params = {"lr": 0.001, "hidden": 64, "alpha": 1e-4, "epochs": 10, "data": os.path.join(here, "..", "..", "data", "digits.csv")}
params.update(trial.params)

with open(params["data"]) as f:
    rows = list(csv.reader(f))
x = np.array([[float(v) for v in r[:-1]] for r in rows[1:]])
y = np.array([int(r[-1]) for r in rows[1:]])
# The split is the program's: fixed, so every trial validates on the same rows.
x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
scaler = StandardScaler().fit(x_train)
x_train, x_valid = scaler.transform(x_train), scaler.transform(x_valid)
classes = np.unique(y)

model = MLPClassifier(
    hidden_layer_sizes=(int(params["hidden"]),),
    learning_rate_init=float(params["lr"]),
    alpha=float(params["alpha"]),
    random_state=trial.seed % (2**32),
)
rng = np.random.default_rng(trial.seed)
warnings.filterwarnings("ignore", category=ConvergenceWarning)
for epoch in range(1, int(params["epochs"]) + 1):
    order = rng.permutation(len(x_train))
    for batch in np.array_split(order, max(1, len(order) // 64)):
        model.partial_fit(x_train[batch], y_train[batch], classes=classes)
    decision = trial.report(
        epoch,
        {"train_loss": float(model.loss_)},
        probabilities=model.predict_proba(x_valid),
        targets=y_valid.tolist(),
    )
    if decision.save:
        with open(decision.checkpoint_path, "wb") as f:
            pickle.dump({"model": model, "scaler": scaler}, f)
    if decision.stop:
        break
print("trial", trial.id, "ran", epoch, "epochs in", os.getcwd())
