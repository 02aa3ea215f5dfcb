"""Write expected.json for a Lightning CSVLogger version folder (metrics.csv + hparams.yaml).

Usage: python expected_lightning.py DIR VERSION_RELDIR
metrics.csv is read as expected_csv.py does (step column 'step'; train and validation rows
leave each other's cells empty, so each metric has its own points and last step); the
config is hparams.yaml as PyYAML's safe loader reads it (not expbook), except that a Python
tag (!!python/object:argparse.Namespace, !!python/object/apply:torch.device, !!python/tuple)
is dropped and its node kept as the plain mapping, list or string it holds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
import expected_csv


class _TagsAsPlain(yaml.SafeLoader):
    """Safe loading; any tag the safe loader does not know gives its node's plain value."""


def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_TagsAsPlain.add_multi_constructor("", _plain)


def main(folder: str, rel: str) -> None:
    expected_csv.main(folder, f"{rel}/metrics.csv", "step")
    out_path = Path(folder) / "expected.json"
    out = json.loads(out_path.read_text())
    hparams = Path(folder) / rel / "hparams.yaml"
    if hparams.is_file():
        out["config"] = yaml.load(hparams.read_text(), Loader=_TagsAsPlain) or {}
    out_path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
