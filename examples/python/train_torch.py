"""A plain PyTorch loop swept by sweep (objective = "command"): documented in
the book's "Sweep your own program" page, not run by CI (torch is too heavy).

    sweep run train_torch.toml    # [command] argv = ["python3", "examples/python/train_torch.py", "${args}"]
"""

import csv
import os

import torch
from torch import nn

from sweep_client import Trial

trial = Trial()
p = {"lr": 1e-3, "hidden": 64, "epochs": 20, "batch_size": 64}
p.update(trial.params)
torch.manual_seed(trial.seed % (2**63))

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "..", "..", "data", "digits.csv")) as f:
    rows = list(csv.reader(f))[1:]
x = torch.tensor([[float(v) / 16 for v in r[:-1]] for r in rows])
y = torch.tensor([int(r[-1]) for r in rows])
order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
valid, train = order[: len(y) // 5], order[len(y) // 5 :]

model = nn.Sequential(nn.Linear(64, int(p["hidden"])), nn.ReLU(), nn.Linear(int(p["hidden"]), 10))
optimizer = torch.optim.Adam(model.parameters(), lr=float(p["lr"]))
loss_fn = nn.CrossEntropyLoss()
for epoch in range(1, int(p["epochs"]) + 1):
    model.train()
    total = 0.0
    for batch in train[torch.randperm(len(train))].split(int(p["batch_size"])):
        optimizer.zero_grad()
        loss = loss_fn(model(x[batch]), y[batch])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    model.eval()
    with torch.no_grad():
        logits = model(x[valid])
    # Raw logits and targets: sweep computes mcc, accuracy, valid_loss, ... with its own definitions.
    decision = trial.report(epoch, {"train_loss": total / len(train)}, outputs=logits, targets=y[valid])
    if decision.save:
        torch.save(model.state_dict(), decision.checkpoint_path)
    if decision.stop:
        break
