"""check_tensorboard.py DIR — loads the event files in DIR with TensorBoard's EventAccumulator
(which checks each record's masked CRC-32C), prints every scalar tag with its (step, value)
pairs, and exits non-zero if there are none or, when DIR holds the `expected.json` written by
the Swift test (tag -> [[step, wall_time, value], ...], non-finite values as "nan"/"inf"/"-inf"),
if what TensorBoard reads differs from it in any tag, step, wall time or value."""
import json
import math
import os
import sys

from tensorboard.backend.event_processing import event_accumulator


def same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def main(directory):
    files = sorted(name for name in os.listdir(directory) if "tfevents" in name)
    print(f"{directory}: {len(files)} event file(s): {', '.join(files)}")
    accumulator = event_accumulator.EventAccumulator(
        directory, size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    read = {tag: [(event.step, event.wall_time, event.value) for event in accumulator.Scalars(tag)]
            for tag in sorted(accumulator.Tags()["scalars"])}
    for tag, points in read.items():
        pairs = [f"({step}, {value:.7g})" for step, _, value in points]
        if len(pairs) > 12:
            pairs = pairs[:8] + [f"... {len(pairs) - 11} more ..."] + pairs[-3:]
        print(f"  {tag} ({len(points)} points): {', '.join(pairs)}")
    if not read:
        print("FAIL: TensorBoard found no scalars")
        return 1

    expected_path = os.path.join(directory, "expected.json")
    if not os.path.exists(expected_path):
        return 0
    with open(expected_path) as file:
        expected = {tag: [(step, wall_time, float(value)) for step, wall_time, value in points]
                    for tag, points in json.load(file).items()}
    failures = []
    if sorted(read) != sorted(expected):
        failures.append(f"tags: read {sorted(read)}, written {sorted(expected)}")
    for tag in sorted(set(read) & set(expected)):
        got, want = read[tag], expected[tag]
        if len(got) != len(want):
            failures.append(f"{tag}: read {len(got)} points, written {len(want)}")
        for (step, wall_time, value), (want_step, want_wall_time, want_value) in zip(got, want):
            if (step, wall_time) != (want_step, want_wall_time) or not same(value, want_value):
                failures.append(f"{tag}: read (step {step}, wall time {wall_time}, {value!r}), "
                                f"written (step {want_step}, wall time {want_wall_time}, {want_value!r})")
    for failure in failures:
        print(f"FAIL: {failure}")
    if failures:
        return 1
    count = sum(len(points) for points in expected.values())
    print(f"OK: TensorBoard read back all {count} scalars of {len(expected)} tags exactly "
          "(steps, wall times, float32 values, nan and inf)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_tensorboard.py DIR")
    sys.exit(main(sys.argv[1]))
