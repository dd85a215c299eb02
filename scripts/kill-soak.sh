#!/usr/bin/env bash
# kill-soak.sh [N] — kills a training run N times with SIGKILL (default 20) at random moments,
# resuming it after each kill, and checks that it ends exactly where an uninterrupted run ends:
# the final checkpoint's weights and optimizer state byte for byte, and every metrics record
# (losses, learning rates, gradient norms, token counts, validation losses) equal.
#
# The kills land while the raw text is being prepared into token shards, while steps run, and
# while checkpoints are being written (the script waits for a checkpoint's staging directory to
# appear and kills then). The run is the quickstart config shrunk to a few seconds of training on
# this repository's Swift sources, on one thread (results are bit-identical for a fixed count).
#
#   scripts/kill-soak.sh 20          # about 4 minutes on 2 cores
#   TAIPAN=path/to/taipan STEPS=20 scripts/kill-soak.sh 3   # the short version `make test` runs
#   KEEP=1 …                         # keep the work directory for a look afterwards
set -euo pipefail
kills=${1:-20}
cd "$(dirname "$0")/.."
repo=$PWD
taipan=$(scripts/taipan-binary.sh)
work=$(mktemp -d "${TMPDIR:-/tmp}/taipan-kill-soak.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

# The corpus: this repository's Swift sources, one document a file, in 3 JSON Lines shards
# plus one for validation.
python3 - "$repo/Sources" "$work" <<'PY'
import json, os, sys
sources, out = sys.argv[1], sys.argv[2]
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(sources) for f in fs if f.endswith(".swift"))
shards = [[] for _ in range(4)]
# Eight copies of each file, so that preparing the data takes long enough to be killed in.
for i, path in enumerate(paths * 8):
    with open(path, encoding="utf-8") as f:
        shards[i % 4].append(json.dumps({"text": f.read(), "meta": {"pile_set_name": "Swift"}}))
for i, lines in enumerate(shards):
    with open(os.path.join(out, f"corpus-{i}.jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
PY

steps=${STEPS:-100}
settings=(
  --set "data.train=[\"$work/corpus-0.jsonl\",\"$work/corpus-1.jsonl\",\"$work/corpus-2.jsonl\"]"
  --set "data.validation=[\"$work/corpus-3.jsonl\"]" --set data.tokenizer=byte
  --set data.sequence_length=64 --set train.batch_size=4 --set train.max_steps=$steps
  --set train.threads=1 --set schedule.warmup_steps=5 --set eval.interval=10 --set eval.batches=2
  --set eval.sample_tokens=0 --set checkpoint.interval=5 --set checkpoint.keep_last=2 --set log.interval=1
)
train() { # RUN [extra arguments…] — run in a subshell: it becomes the taipan process
  local run=$1; shift
  exec "$taipan" train configs/quickstart.toml "${settings[@]}" --set "train.run_dir=$work/$run" "$@"
}

echo "uninterrupted run ($steps steps)…"
start=$(date +%s)
(train straight) >"$work/straight.log" 2>&1 || { cat "$work/straight.log"; exit 1; }
seconds=$(( $(date +%s) - start + 1 ))
echo "  took ${seconds} s"

echo "$kills kills…"
RANDOM=7
where=()
prepared_kills=0
write_kills=0
for ((kill_number = 1; kill_number <= kills; kill_number++)); do
  resume=()
  ls "$work"/soak/checkpoints/step-*/COMPLETE >/dev/null 2>&1 && resume=(--resume)
  (train soak "${resume[@]}") >>"$work/soak.log" 2>&1 &
  pid=$!
  case $((kill_number % 3)) in
    0) # while a checkpoint is being written: wait for a staging directory
       for ((i = 0; i < 20000; i++)); do
         compgen -G "$work/soak/checkpoints/.step-*.partial-*" >/dev/null && break
         kill -0 $pid 2>/dev/null || break
         sleep 0.001
       done
       what="checkpoint write" ;;
    1) # early: in the data preparation while it is not finished, else in the first steps
       if [ ! -e "$work/soak/data/manifest.json" ]; then
         for ((i = 0; i < 20000; i++)); do
           [ -e "$work/soak/data/.prepare-in-progress" ] && break
           kill -0 $pid 2>/dev/null || break
           sleep 0.001
         done
       fi
       sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
       what="early (data preparation or first steps)" ;;
    2) # a while into training (up to a fifth of the whole run)
       sleep "$((RANDOM % (seconds / 5 + 1))).$((RANDOM % 10))"
       what="during training" ;;
  esac
  if kill -KILL $pid 2>/dev/null; then
    wait $pid 2>/dev/null || true
    newest=$(ls -d "$work"/soak/checkpoints/step-* 2>/dev/null | tail -1 || true)
    newest=${newest##*/}
    # Where it landed, from what it left behind.
    landed=""
    [ -e "$work/soak/data/.prepare-in-progress" ] && landed=" — landed in data preparation" && prepared_kills=$((prepared_kills + 1))
    compgen -G "$work/soak/checkpoints/.step-*.partial-$pid" >/dev/null && landed=" — landed in a checkpoint write" && write_kills=$((write_kills + 1))
    where+=("kill $kill_number: $what$landed; newest checkpoint: ${newest:-none}")
  else
    wait $pid || { echo "the run failed before kill $kill_number:"; tail -20 "$work/soak.log"; exit 1; }
    where+=("kill $kill_number: $what; the run had already finished")
  fi
done
printf '  %s\n' "${where[@]}"
echo "  $prepared_kills kill(s) landed in data preparation, $write_kills in checkpoint writes"

echo "final resume…"
resume=()
ls "$work"/soak/checkpoints/step-*/COMPLETE >/dev/null 2>&1 && resume=(--resume)
(train soak "${resume[@]}") >>"$work/soak.log" 2>&1 || { tail -20 "$work/soak.log"; exit 1; }

final=$(printf 'step-%08d' $steps)
status=0
for file in model.safetensors optimizer.safetensors; do
  if cmp -s "$work/straight/checkpoints/$final/$file" "$work/soak/checkpoints/$final/$file"; then
    echo "  $final/$file: identical"
  else
    echo "  $final/$file: DIFFERS"; status=1
  fi
done
python3 - "$work/straight/metrics.jsonl" "$work/soak/metrics.jsonl" <<'PY' || status=1
import json, sys
# Timings differ from run to run; a finished run started again only evaluates again, which
# repeats the last evaluation record (identical values). Anything else must match exactly.
timing = {"tokens_per_second", "mfu"}
def records(path):
    table, order = {}, []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            record = {k: v for k, v in json.loads(line).items() if k not in timing}
            key = (record["step"], record["kind"])
            if key in table and table[key] != record:
                sys.exit(f"  {path}:{number}: step {key[0]} {key[1]} logged twice with different values")
            if key not in table:
                order.append(key)
            table[key] = record
    return [table[key] for key in order]
a, b = records(sys.argv[1]), records(sys.argv[2])
if a == b:
    print(f"  metrics.jsonl: all {len(a)} records identical (timings aside)")
else:
    print(f"  metrics.jsonl: DIFFERS ({len(a)} records uninterrupted, {len(b)} after the kills)")
    for x, y in zip(a, b):
        if x != y:
            print(f"    first difference: {x} vs {y}")
            break
    sys.exit(1)
PY
[ $status = 0 ] && echo "kill-soak: $kills kills, the run ends bit-identical to the uninterrupted one" \
  || echo "kill-soak: FAILED (work directory: $work)"
[ $status = 0 ] || trap - EXIT
exit $status
