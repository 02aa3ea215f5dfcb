"""A tiny Keras model fitted with ExpbookCallback, and a fit that breaks (run as a script:
``python _keras_fit.py STORE``, the callback raising at the 3rd batch ends the process)."""

from __future__ import annotations

import os
import sys
from typing import Any

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported: torch is what is installed

import keras
import numpy as np

from expbook.integrations.keras import ExpbookCallback


def data(n: int = 32, seed: int = 0) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 4), dtype=np.float32), rng.random((n, 1), dtype=np.float32)


def model(lr: float = 0.01) -> Any:
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="mse", metrics=["mae"])
    return m


class Breaks(keras.callbacks.Callback):  # type: ignore[misc]
    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if batch == 2:
            raise RuntimeError("fit broke at batch 2")


if __name__ == "__main__":
    cb = ExpbookCallback(project="keras", name="breaks", store=sys.argv[1], log_batch_frequency=1)
    x, y = data()
    model().fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[cb, Breaks()])
