"""Layers that let code written for other trackers log to expbook. ``compat.wandb`` is the
module tree ``expbook shim install wandb`` puts behind ``import wandb``. Nothing here is
imported by ``import expbook``."""
