"""``wandb.env``: the names of wandb's environment variables, and readers for the ones that
change what expbook does (``WANDB_PROJECT``, ``WANDB_MODE``...)."""

from __future__ import annotations

import os

MODE = "WANDB_MODE"
PROJECT = "WANDB_PROJECT"
ENTITY = "WANDB_ENTITY"
RUN_ID = "WANDB_RUN_ID"
NAME = "WANDB_NAME"
NOTES = "WANDB_NOTES"
TAGS = "WANDB_TAGS"
DIR = "WANDB_DIR"
SILENT = "WANDB_SILENT"
API_KEY = "WANDB_API_KEY"


def get_project(default: str | None = None) -> str | None:
    return os.environ.get(PROJECT, default)


def get_entity(default: str | None = None) -> str | None:
    return os.environ.get(ENTITY, default)


def set_project(value: str) -> None:
    os.environ[PROJECT] = value


def set_entity(value: str) -> None:
    os.environ[ENTITY] = value
