"""``ExpbookCallback``: log ``keras.Model.fit`` (Keras 3, any backend) to expbook.

::

    from expbook.integrations.keras import ExpbookCallback
    model.fit(x, y, epochs=10, callbacks=[ExpbookCallback(project="mnist")])

What is recorded:

* config: ``self.params`` of the fit (``epochs``, ``steps``...), the optimizer's config under
  ``optimizer`` (``optimizer.learning_rate``...) and ``num_parameters``;
* the epoch's metrics (``loss``, ``val_loss``... as Keras names them) at step ``epoch``, the
  index Keras counts from 0;
* with ``log_batch_frequency=N``, every Nth batch's metrics as ``batch/<name>`` at the global
  batch step: the number of batches trained so far in this fit, across epochs (N, 2N...).

The run is started when training starts, unless a run is current already (``expbook.init``
called by the script), which is then used and left open. A run started here is finished when
``fit`` ends; when ``fit`` raises, the exit handler of :func:`expbook.init` marks the run
``failed`` once the exception ends the script.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from ._runs import RunHandle

__all__ = ["ExpbookCallback"]


class ExpbookCallback(keras.callbacks.Callback):
    """A Keras callback that logs the fit to an expbook run.

    ``project``, ``name``, ``store`` and any other keyword are passed to
    :func:`expbook.init` when training starts (not used when a run is current already).
    ``log_batch_frequency=N`` logs the metrics of every Nth batch too (None: epochs only).
    """

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        store: Any = None,
        log_batch_frequency: int | None = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        if log_batch_frequency is not None and (
            not isinstance(log_batch_frequency, int) or log_batch_frequency < 1
        ):
            raise ValueError(
                f"log_batch_frequency must be a positive integer, not {log_batch_frequency!r}"
            )
        self.log_batch_frequency = log_batch_frequency
        self._handle = RunHandle(project, name, store, init_kwargs)
        self._batches = 0

    @property
    def run(self) -> Any:
        """The expbook run being logged to (None before training starts)."""
        return self._handle.run

    def on_train_begin(self, logs: Any = None) -> None:
        self._batches = 0
        self._handle.start(self._config())

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._batches += 1
        n = self.log_batch_frequency
        if n and logs and self._batches % n == 0:
            self._handle.log({f"batch/{k}": v for k, v in logs.items()}, step=self._batches)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if logs:
            self._handle.log(dict(logs), step=int(epoch))

    def on_train_end(self, logs: Any = None) -> None:
        self._handle.finish()

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = dict(self.params or {})
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            try:
                config["optimizer"] = optimizer.get_config()
            except Exception:  # a hand-made optimizer without a config: its name at least
                config["optimizer"] = {"name": type(optimizer).__name__}
        try:
            config["num_parameters"] = int(model.count_params())
        except Exception:  # a model not built yet has no parameter count
            pass
        return config
