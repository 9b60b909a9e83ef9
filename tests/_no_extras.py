"""Run an entry point as on a base install: the optional extras' packages cannot be imported.

    python tests/_no_extras.py ENTRY ARGS...     (ENTRY: genrefocus, genrefocus-data, train)

An import hook refuses every module of the extras (depth, gpu, app, video, heif, train, cluster), as if
they were not installed; everything the base install has (torch, numpy, scikit-image, OpenCV, …) imports
as usual. Exits with the entry point's exit code."""

import importlib.abc
import sys
from pathlib import Path

EXTRAS = ("diffusers", "transformers", "huggingface_hub", "gradio", "peft", "accelerate", "av", "pillow_heif",
          "ray", "datasets", "torchao", "tensorboard", "prodigyopt", "sentencepiece")


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in EXTRAS:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
for name in list(sys.modules):
    if name.split(".")[0] in EXTRAS:
        del sys.modules[name]
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
entry, argv = sys.argv[1], sys.argv[2:]
if entry == "genrefocus":
    from genrefocus.cli import main
elif entry == "genrefocus-data":
    from genrefocus.data.cli import main
else:
    import runpy

    main = runpy.run_path(str(ROOT / "training" / "train.py"))["main"]
sys.exit(main(argv))
