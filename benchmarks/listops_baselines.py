"""Accuracy floors of a ListOps data set, to read trained models' accuracies against.

    python benchmarks/listops_baselines.py --data-option max_length=256 --data-option n_train=10000 \
        --data-option n_val=500 --data-option n_test=1000 --data-option source=generate

Prints, for val and test: the majority class (most frequent label of the training split,
predicted for every example) and the top-operator rule (the most frequent training label for
each outermost operator: MAX -> 9, MIN -> 0, ...). A model that only reads the first token
reaches the second; beating it needs the arguments to be read.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict

from samovar.tasks import get_task
from samovar.tasks.data.listops import VOCAB


def parse_option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    for convert in (int, float):
        try:
            return key, convert(value)
        except ValueError:
            pass
    return key, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--data-option", type=parse_option, action="append", default=[], help="key=value, as samovar task run")
    args = parser.parse_args()
    data = get_task("listops").load(args.data_dir, **dict(args.data_option))
    train_ops = data.train.inputs[:, 0].tolist()
    per_op: dict[int, Counter] = defaultdict(Counter)
    for op, label in zip(train_ops, data.train.labels.tolist()):
        per_op[op][label] += 1
    rule = {op: counts.most_common(1)[0][0] for op, counts in per_op.items()}
    majority = Counter(data.train.labels.tolist()).most_common(1)[0][0]
    print(f"{data.name}: {len(data.train)}/{len(data.val)}/{len(data.test)} examples; "
          f"top-operator rule {{{', '.join(f'{VOCAB[op]}: {label}' for op, label in sorted(rule.items()))}}}")
    print("| split | majority class (train's, label %d) %% | top-operator rule %% | test's own most frequent label %% |" % majority)
    print("|---|---|---|---|")
    for name in ("val", "test"):
        split = getattr(data, name)
        labels = split.labels.tolist()
        ops = split.inputs[:, 0].tolist()
        acc_majority = sum(y == majority for y in labels) / len(labels)
        acc_rule = sum(rule.get(op, majority) == y for op, y in zip(ops, labels)) / len(labels)
        own = Counter(labels).most_common(1)[0][1] / len(labels)
        print(f"| {name} | {100 * acc_majority:.2f} | {100 * acc_rule:.2f} | {100 * own:.2f} |")


if __name__ == "__main__":
    main()
