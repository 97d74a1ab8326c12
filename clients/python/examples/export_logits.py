"""Saves the raw logits of every step of a decode as one NumPy matrix ``[steps, vocab]`` (float32) for
offline analysis, then loads the file back and checks it against the decode.

    /usr/bin/python3 clients/python/examples/export_logits.py [TEXT] [--out logits.npy] [--server HOST:PORT]

You will see the file's shape and dtype and whether the argmax of every saved row is the token the greedy
decode took.
"""

from __future__ import annotations

import numpy as np

from _common import connect, parse_arguments, run_example


def main() -> None:
    arguments = parse_arguments(
        __doc__.splitlines()[0], out=dict(default="logits.npy", help="file to write (default: logits.npy)")
    )
    with connect(arguments) as client:
        run = client.decode(arguments.text, max_new_tokens=arguments.max_new_tokens, selection="greedy")
        steps = list(run)
    # Each row is a read-only view over a received message; stacking copies them into one matrix.
    matrix = np.stack([step.logits for step in steps])
    np.save(arguments.out, matrix)

    loaded = np.load(arguments.out)
    greedy_tokens = np.array([step.token.token_id for step in steps])
    print(f"wrote {arguments.out}: shape {loaded.shape}, dtype {loaded.dtype}")
    print(f"identical to the streamed logits: {np.array_equal(loaded, matrix)}")
    print(f"argmax of every row is the greedy token: {bool((loaded.argmax(axis=1) == greedy_tokens).all())}")
    print(f"text: {run.finished.text!r}")


if __name__ == "__main__":
    run_example(main)
