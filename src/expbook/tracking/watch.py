"""``watch(model)``: per-layer parameter and gradient norms of a PyTorch model as metrics.

Hooks count forward calls only (a Python integer: no GPU work); on every ``log_freq``-th call
the norms of the watched tensors are stacked on their device and copied to the host once,
so a step that does not log adds no synchronisation. Parameter norms are taken before that
forward pass, gradient norms once its backward pass has produced every gradient (one
``torch.autograd.graph.register_multi_grad_hook``, registered on logging steps only). The
values go to the run's current step with ``commit=False``, next to what the loop logs for
that step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    from .run import Run

_MODES = ("gradients", "parameters", "all", None)


class Watch:
    """The hooks on one model; :meth:`remove` takes them off."""

    def __init__(self, run: Run, model: Any, log: str | None, log_freq: int, prefix: str) -> None:
        self.run = run
        self.model = model
        self.log = log
        self.log_freq = max(1, int(log_freq))
        self.prefix = prefix
        self.calls = 0
        self.named = [(n, p) for n, p in model.named_parameters() if p is not None]
        self._handles = [model.register_forward_pre_hook(self._pre_forward)]
        self._grad_handle: Any = None

    def _pre_forward(self, module: Any, inputs: Any) -> None:
        self.calls += 1
        if (self.calls - 1) % self.log_freq or self.run.finished:
            return
        import torch

        if self.log in ("gradients", "all") and torch.is_grad_enabled():
            wanted = [p for _, p in self.named if p.requires_grad]
            if wanted and self._grad_handle is None:
                self._grad_handle = torch.autograd.graph.register_multi_grad_hook(
                    wanted, self._on_grads, mode="all"
                )
        if self.log in ("parameters", "all") and self.named:
            with torch.no_grad():
                norms = torch.stack([p.detach().float().norm() for _, p in self.named])
                self._emit("parameters", norms.cpu().tolist())

    def _on_grads(self, grads: Any) -> None:
        handle, self._grad_handle = self._grad_handle, None
        if handle is not None:
            handle.remove()
        import torch

        names = [n for n, p in self.named if p.requires_grad]
        pairs = [(n, g) for n, g in zip(names, grads) if g is not None]
        if not pairs or self.run.finished:
            return
        with torch.no_grad():
            norms = torch.stack([g.detach().float().norm() for _, g in pairs]).cpu().tolist()
        self._emit("gradients", norms, [n for n, _ in pairs])

    def _emit(self, what: str, norms: list[float], names: list[str] | None = None) -> None:
        names = names if names is not None else [n for n, _ in self.named]
        row = {f"{what}/norm/{self.prefix}{n}": v for n, v in zip(names, norms)}
        row[f"{what}/norm/{self.prefix}_total"] = sum(v * v for v in norms) ** 0.5
        try:
            self.run.log(row, commit=False)
        except Exception:  # watching must never break training
            pass

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        if self._grad_handle is not None:
            self._grad_handle.remove()
            self._grad_handle = None


def watch(
    run: Run,
    models: Any,
    criterion: Any = None,
    log: str | None = "gradients",
    log_freq: int = 1000,
    idx: int | None = None,
    log_graph: bool = False,
) -> list[Watch]:
    if log not in _MODES:
        raise UsageError(f"watch(log=) takes 'gradients', 'parameters', 'all' or None, not {log!r}")
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    made = []
    for i, model in enumerate(models):
        if not all(hasattr(model, a) for a in ("named_parameters", "register_forward_pre_hook")):
            raise UsageError(f"watch() takes torch.nn.Module objects, not {type(model).__name__}")
        if log is None:
            continue
        prefix = f"model{i if idx is None else idx}/" if len(models) > 1 or idx else ""
        made.append(Watch(run, model, log, log_freq, prefix))
    return made
