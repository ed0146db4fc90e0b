"""Run under ``mpiexec -n 2``: ``fit`` on sharded data. Each rank writes ``OUT/rank{r}.json``.

Modes: ``fit OPT`` (SGD with momentum or Adam, 3 epochs, 33 examples in global batches of 8, so
the last batch's share on rank 0 is empty; a sharded validation set of 9 in batches of 4),
``resume`` (dropout and BatchNorm, 36 examples: an uninterrupted run, a run cut at step 7 with
a step-6 checkpoint, its resume), ``stop`` (a stop decided on one rank).
"""

import json
import os
import sys

import numpy as np

import gradflow as gf
import gradflow.distributed as dist
from gradflow import nn
from gradflow.data import DataLoader, TensorDataset
from gradflow.train import Callback, CSVLogger, ModelCheckpoint, Trainer, fit

out, mode = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(3)
X = rng.standard_normal((36, 4)).astype(np.float32)
Y = rng.integers(0, 3, 36)
XV, YV = rng.standard_normal((9, 4)).astype(np.float32), rng.integers(0, 3, 9)


def data(n=33):  # 36 for BatchNorm: no share of one row
    train = DataLoader(TensorDataset(gf.tensor(X[:n]), gf.tensor(Y[:n])), batch_size=8,
                       shuffle=True, seed=5)
    val = DataLoader(TensorDataset(gf.tensor(XV), gf.tensor(YV)), batch_size=4)
    return train, val


def params(model):
    return [p.numpy().tolist() for p in model.parameters()]


result = {}
if mode == "fit":
    opt_name = sys.argv[3]
    gf.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
    opt = (gf.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if opt_name == "sgd"
           else gf.optim.Adam(model.parameters(), lr=0.01))
    train, val = data()
    csv = os.path.join(out, "metrics.csv")
    history = fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=3, progress=False,
                  callbacks=[CSVLogger(csv)])
    result = {"params": params(model), "history": history.records, "sharded": train.sharded,
              "steps": history.steps}
elif mode == "resume":
    def run(**kw):
        gf.manual_seed(1)
        model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                              nn.Linear(16, 3))
        opt = gf.optim.Adam(model.parameters(), lr=0.01)
        train, val = data(36)
        trainer = Trainer(model, nn.CrossEntropyLoss(), opt, train, val, epochs=3,
                          callbacks=kw.pop("callbacks", []), max_iters=kw.pop("max_iters", None))
        trainer.fit(**kw)
        return model, trainer

    full, _ = run()
    ckpt = os.path.join(out, "ckpt")
    run(callbacks=[ModelCheckpoint(ckpt, every=(6, "step"))], max_iters=7)
    resumed, trainer = run(resume=ckpt)
    bn = full[1]
    result = {"full": params(full), "resumed": params(resumed), "steps": trainer.step,
              "draw": float(gf.rand(1)),  # each rank its own random stream
              "running_mean": bn.running_mean.numpy().tolist(),
              "files": sorted(os.listdir(ckpt))}
elif mode == "stop":  # a callback on rank 1 alone stops training: every rank stops

    class StopOnRankOne(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if dist.rank() == 1 and epoch == 2:
                trainer.stop_training = True

    gf.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    train, val = data()
    history = fit(model, nn.CrossEntropyLoss(), gf.optim.SGD(model.parameters(), lr=0.1),
                  train, val, epochs=5, progress=False,
                  callbacks=[StopOnRankOne()])
    result = {"epochs": len(history), "reason": history.stop_reason}
rank = dist.rank()
with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
    json.dump(result, f)
