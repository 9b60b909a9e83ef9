"""Fault injection for tests/test_resume.py: run a trainer or a dataset build in this process and kill
it with SIGKILL at a chosen point (what a power cut or an OOM killer does).

    _fault_worker.py lora  KILL_AT_STEP THREADS config.json      # killed inside checkpoint KILL_AT_STEP's write
    _fault_worker.py dp    KILL_AT_STEP THREADS kwargs.json
    _fault_worker.py data  KILL_AT_SAVE THREADS genrefocus-data argv...   # killed halfway through an image write
"""

import json
import os
import signal
import sys
from pathlib import Path

import torch


def _kill():
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_inside_checkpoint(at_step: int) -> None:
    from genrefocus.training.checkpoints import Checkpoints

    original = Checkpoints.save

    def save(self, step, write, *a, **k):
        if step == at_step:
            def write_then_die(folder):
                write(folder)  # the state files are written, the checkpoint is not complete yet
                _kill()
            return original(self, step, write_then_die, *a, **k)
        return original(self, step, write, *a, **k)

    Checkpoints.save = save


def main() -> None:
    kind, at, threads, rest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    torch.set_num_threads(threads)
    if kind == "lora":
        from genrefocus.training.lora import LoRATrainConfig
        from genrefocus.training.lora import train

        _kill_inside_checkpoint(at)
        train(LoRATrainConfig(**json.loads(Path(rest[0]).read_text())), progress=False)
    elif kind == "dp":
        from genrefocus.training.uid import UiDTrainConfig, train_uid

        _kill_inside_checkpoint(at)
        train_uid(UiDTrainConfig(**json.loads(Path(rest[0]).read_text())), progress=False)
    else:
        from genrefocus.data import builders
        from genrefocus.data.cli import main as data_main

        original, calls = builders.save_image, []

        def save_image(image, path, *a, **k):
            calls.append(path)
            if len(calls) == at:  # half an image in a temporary file, then the machine dies
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                (Path(path).parent / f".tmp-{Path(path).name}").write_bytes(b"\x89PNG half")
                _kill()
            return original(image, path, *a, **k)

        builders.save_image = save_image
        sys.exit(data_main(rest))
    raise SystemExit("the fault was not reached")


if __name__ == "__main__":
    main()
