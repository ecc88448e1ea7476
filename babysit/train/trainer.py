"""The lecture's ``ClassifierTrainer``: train a model dict with a loss function, as on the slides.

    model = init_two_layer_model(32*32*3, 50, 10)
    trainer = ClassifierTrainer()
    best_model, stats = trainer.train(X_train, y_train, X_val, y_val, model, two_layer_net,
                                      num_epochs=10, reg=0.000001, update='sgd',
                                      learning_rate_decay=1, sample_batches=True,
                                      learning_rate=1e-6, verbose=True)
    Finished epoch 1 / 10: cost 2.302576, train: 0.080000, val 0.103000, lr 1.000000e-06
    ...
    finished optimization. best validation accuracy: 0.192000

It is a thin front over the Solver: the same loop, update rules and callbacks.
"""

from __future__ import annotations

import numpy as np

from babysit.train.solver import Solver

MOMENTUM_RULES = ("momentum", "nesterov")


class LectureModel:
    """Adapts the lecture's (model dict, loss_function, reg) to the cs231n model convention.

    ``loss_function(X, model)`` returns scores; ``loss_function(X, model, y, reg)`` returns (loss, grads).
    """

    def __init__(self, params: dict, loss_function, reg: float = 0.0):
        self.params = params
        self.loss_function = loss_function
        self.reg = reg

    def loss(self, X, y=None):
        if y is None:
            return self.loss_function(X, self.params)
        return self.loss_function(X, self.params, y, self.reg)


class ClassifierTrainer:
    """The lecture's trainer; ``train`` returns ``(best_model, stats)``."""

    def train(
        self, X_train, y_train, X_val, y_val, model, loss_function, num_epochs=30, reg=0.0,
        update="momentum", learning_rate_decay=0.95, sample_batches=True, batch_size=100,
        learning_rate=1e-2, momentum=0.9, verbose=False, seed=None, callbacks=(), explosion_factor=None,
    ):
        """Train ``model`` (dict name -> array, updated in place) on (X_train, y_train).

        Inputs: X_train (N, D), y_train (N,), X_val (M, D), y_val (M,); loss_function as
        the lecture's ``two_layer_net``; update 'sgd' | 'momentum' | 'nesterov' | 'rmsprop'
        | 'adam'; sample_batches=False takes full-batch steps (one per epoch);
        learning_rate_decay multiplies the rate after every epoch; seed (int or
        Generator) drives minibatches and the 1,000-row train-accuracy subsample;
        explosion_factor stops at cost > factor x first cost (None: never, as on the slides).
        Returns: best_model, a copy of the parameters with the best validation accuracy
        (also left in ``model``), and stats, a dict with loss_history, train_acc_history,
        val_acc_history, lr_history, best_val_acc, status and stopped_at.
        """
        solver = Solver(
            LectureModel(model, loss_function, reg),
            {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val},
            update_rule=update,
            optim_config={"learning_rate": learning_rate,
                          **({"momentum": momentum} if update in MOMENTUM_RULES else {})},
            lr_decay=learning_rate_decay,
            batch_size=batch_size if sample_batches else len(X_train),
            num_epochs=num_epochs,
            num_train_samples=1000,
            verbose=verbose,
            seed=seed,
            callbacks=callbacks,
            explosion_factor=explosion_factor,
        )
        solver.train()
        best_model = {k: np.array(v, copy=True) for k, v in model.items()}
        stats = {
            "loss_history": solver.loss_history,
            "train_acc_history": solver.train_acc_history,
            "val_acc_history": solver.val_acc_history,
            "lr_history": solver.lr_history,
            "best_val_acc": solver.best_val_acc,
            "status": solver.status,
            "stopped_at": solver.stopped_at,
        }
        return best_model, stats
