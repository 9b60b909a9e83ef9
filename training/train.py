#!/usr/bin/env python3
"""Train a genrefocus model: the LoRAs on FLUX.1-dev, or a CPU model (DPDeblurNet, JDRL, UiD).

    python training/train.py dp_deblur --steps 6000 --output-dir runs/dp_deblur
    python training/train.py dp_deblur --output-dir runs/dp_deblur --resume latest       # continue a killed run
    python training/train.py jdrl --loss l1 --output-dir runs/jdrl_l1
    python training/train.py --config training/configs/dp_deblur.yaml --set steps=100
    accelerate launch training/train.py lora --config training/configs/bokehnet_synthetic.yaml

Values come from the trainer's defaults, then the YAML ``--config`` (whose ``trainer:`` key may name the
trainer), then ``--set KEY=VALUE``, then the flags (``python training/train.py TRAINER --help`` lists
them with their defaults). Every problem is reported at once, before anything loads.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrefocus.entry import ArgumentParser, HelpFormatter, run_main  # noqa: E402
from genrefocus.training import TRAINERS  # noqa: E402

#: extra spellings of some flags (the names the earlier per-trainer scripts used)
ALIASES = {"output_dir": ["--out"], "learning_rate": ["--lr"],
           "resume_from_checkpoint": ["--resume", "--resume_from_checkpoint"]}


class _FirstPass(ArgumentParser):
    """Reads only the trainer, ``--config`` and ``--set`` (the flags depend on the trainer)."""

    def parse_args(self, args=None, namespace=None):
        known, _ = self.parse_known_args(args, namespace)
        known.argv = list(sys.argv[1:] if args is None else args)
        return known


def build_parser():
    ap = _FirstPass(prog="train", description=__doc__.splitlines()[0], add_help=False)
    ap.add_argument("trainer", nargs="?")
    ap.add_argument("--config", default=None)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("-h", "--help", action="store_true")
    return ap


def full_parser(trainer: str = None) -> ArgumentParser:
    """The parser of one trainer: its config fields as flags, with their defaults and help."""
    from genrefocus.training import get_trainer
    from genrefocus.training.config import add_config_arguments

    ap = ArgumentParser(prog="train", description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("trainer", choices=list(TRAINERS), help="what to train")
    ap.add_argument("--config", default=None, help="YAML config (training/configs/*.yaml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key (data.manifest=..., model.width=32)")
    if trainer in TRAINERS:
        add_config_arguments(ap, get_trainer(trainer)[0], ALIASES)
    return ap


def run(first) -> int:
    from genrefocus.errors import InputError
    from genrefocus.io import check_output_dir
    from genrefocus.training import get_trainer
    from genrefocus.training.config import flag_values, load_config, read_yaml

    named = first.trainer
    in_file = read_yaml(first.config).get("trainer") if first.config and Path(first.config).is_file() else None
    if named is not None and named not in TRAINERS:
        raise InputError("trainer", f"unknown trainer {named!r}; use one of {', '.join(TRAINERS)}")
    if named and in_file and named != in_file:
        raise InputError("trainer", f"the command line says {named!r}, {first.config!r} says {in_file!r}")
    trainer = named or in_file
    if trainer is None:
        if first.help:
            full_parser().print_help()
            return 0
        raise InputError("trainer", f"name one: {', '.join(TRAINERS)} (or a --config whose trainer: key names it)")
    rest = list(first.argv)
    if named:
        rest.remove(named)
    try:
        args = full_parser(trainer).parse_args([trainer] + rest)
    except SystemExit as exc:  # a usage error (one line, code 2) or --help (code 0)
        return int(exc.code or 0)
    cfg_cls, train = get_trainer(trainer)
    cfg = load_config(cfg_cls, args.config, args.set, flag_values(args))
    check_output_dir(cfg.output_dir, "--output-dir")
    path = train(cfg)
    if path is not None:
        print(path)
    return 0


def main(argv=None) -> int:
    return run_main("train", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
