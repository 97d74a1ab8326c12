"""Per-step uncertainty of a T5 decode, from the raw logits of every step: the entropy of the model's
distribution and the margin between its two most likely tokens. Low margins and high entropies mark the
steps where the model hesitated: the starting point of error analysis and uncertainty quantification.

    /usr/bin/python3 clients/python/examples/uncertainty.py [TEXT] [--server HOST:PORT] [--max-new-tokens N]

You will see one line per step (token, its probability, entropy in nats, top-2 margin), then the mean
entropy and the least certain step.
"""

from __future__ import annotations

import numpy as np

from _common import connect, parse_arguments, run_example


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


def main() -> None:
    arguments = parse_arguments(__doc__.splitlines()[0])
    rows = []
    with connect(arguments) as client:
        run = client.decode(arguments.text, max_new_tokens=arguments.max_new_tokens, selection="greedy")
        for step in run:
            if not rows:
                print(f"{'step':>4}  {'token':<16} {'prob':>7}  {'entropy':>7}  {'margin':>7}")
            log_probabilities = log_softmax(step.logits)
            probabilities = np.exp(log_probabilities)
            entropy = float(-(probabilities * log_probabilities).sum())
            second, first = np.partition(probabilities, -2)[-2:]
            margin = float(first - second)
            chosen = float(probabilities[step.token.token_id])
            rows.append((step.step, entropy, margin))
            print(f"{step.step:>4}  {step.token.text!r:<16} {chosen:>7.4f}  {entropy:>7.4f}  {margin:>7.4f}")
        finished = run.finished
    entropies = np.array([entropy for _, entropy, _ in rows])
    least_certain = min(rows, key=lambda row: row[2])
    print(f"\ntext: {finished.text!r}")
    print(f"mean entropy: {entropies.mean():.4f} nats over {len(rows)} steps")
    print(f"least certain step: {least_certain[0]} (margin {least_certain[2]:.4f}, entropy {least_certain[1]:.4f})")


if __name__ == "__main__":
    run_example(main)
