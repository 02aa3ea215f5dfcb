"""``ExpbookCallback``: log a ``transformers.Trainer`` to expbook.

::

    from expbook.integrations.transformers import ExpbookCallback
    trainer = Trainer(model, args, train_dataset=..., callbacks=[ExpbookCallback(project="bert")])

What is recorded:

* config: the ``TrainingArguments`` (``to_sanitized_dict()``), the model's config under
  ``model`` and the parameter counts ``num_parameters`` and ``num_trainable_parameters``;
* metrics at ``state.global_step``, named as wandb's callback names them: ``eval_*`` keys as
  ``eval/*``, ``test_*`` as ``test/*``, every other key as ``train/*`` (``loss`` ->
  ``train/loss``, ``epoch`` -> ``train/epoch``);
* summary: the end-of-training figures (``train_runtime``, ``train_samples_per_second``,
  ``train_steps_per_second``, ``total_flos``, ``train_loss``) and ``global_step``.

The run is started when training starts, unless a run is current already (``expbook.init``
called by the script), which is then used and left open. A run started here is finished when
training ends; when ``trainer.train()`` raises, the exception reaches the top of the script
and the exit handler of :func:`expbook.init` marks the run ``failed`` (a script that catches
the exception and goes on should call ``expbook.finish(exit_code=1)``). Metrics logged after
training (``trainer.evaluate()``) go to the same run. Only the main process logs.
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from ._runs import RunHandle

__all__ = ["ExpbookCallback"]

# what the Trainer logs once, when training ends: the run's summary, not a series
SUMMARY_KEYS = frozenset(
    (
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "total_flos",
        "train_loss",
    )
)
_PREFIXES = (("eval_", "eval/"), ("test_", "test/"))


def metric_name(key: str) -> str:
    """The name a Trainer log key is stored under (``eval_loss`` -> ``eval/loss``)."""
    for prefix, group in _PREFIXES:
        if key.startswith(prefix):
            return group + key[len(prefix) :]
    return "train/" + key


class ExpbookCallback(TrainerCallback):
    """A ``transformers.TrainerCallback`` that logs the training to an expbook run.

    ``project``, ``name``, ``store`` and any other keyword are passed to
    :func:`expbook.init` when training starts (not used when a run is current already).
    """

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        store: Any = None,
        **init_kwargs: Any,
    ) -> None:
        self._handle = RunHandle(project, name, store, init_kwargs)
        self._training = False

    @property
    def run(self) -> Any:
        """The expbook run being logged to (None before training starts)."""
        return self._handle.run

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self._handle.start(_config(args, kwargs.get("model")))
        self._training = True

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        summary = {k: v for k, v in logs.items() if k in SUMMARY_KEYS}
        metrics = {metric_name(k): v for k, v in logs.items() if k not in SUMMARY_KEYS}
        handle = self._handle
        if summary:
            summary["global_step"] = state.global_step
        handle.log(metrics, step=state.global_step)
        handle.set_summary(summary)
        if not self._training:
            handle.finish()  # a log after training opened the run again: close it again

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self._training = False
        self._handle.finish()


def _config(args: Any, model: Any) -> dict[str, Any]:
    config: dict[str, Any] = {}
    try:
        config.update(args.to_sanitized_dict())
    except Exception:  # an arguments object of another shape: take what to_dict gives
        config.update(getattr(args, "to_dict", dict)())
    model_config = getattr(model, "config", None)
    if model_config is not None and hasattr(model_config, "to_dict"):
        config["model"] = model_config.to_dict()
    if model is not None and hasattr(model, "parameters"):
        params = list(model.parameters())
        config["num_parameters"] = sum(p.numel() for p in params)
        config["num_trainable_parameters"] = sum(p.numel() for p in params if p.requires_grad)
    return config
