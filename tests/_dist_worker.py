"""Worker for test_distributed.py: the `genrefocus bokeh` command, run under `accelerate launch`, on
each (input, output) pair given (an image → its tiles are split; a folder → its images are split).
argv: flux_dir depth.npy input1 output1 [input2 output2 ...]."""

import sys

from genrefocus.cli import main

if __name__ == "__main__":
    flux, depth, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    for inp, out in zip(rest[::2], rest[1::2]):
        rc = main(["bokeh", "--input", inp, "--output", out, "--model", flux, "--lora-dir", flux, "--prompt-cache",
                   f"{flux}/prompts.safetensors", "--depth", depth, "--k_value", "10", "--steps", "2", "--seed", "7"])
        if rc:
            sys.exit(rc)
