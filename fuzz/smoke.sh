#!/usr/bin/env bash
# A short cargo-fuzz run of each target, from seeds taken from the demo job and its archived
# Looker and Jira responses (CI runs this; a long run is `cargo +nightly fuzz run TARGET`).
#
#   fuzz/smoke.sh [SECONDS_PER_TARGET]     # default 30
#
# Needs a nightly toolchain (cargo-fuzz builds with -Z flags); installs cargo-fuzz from
# crates.io when it is missing. Builds in the dev profile without a sanitizer: okrflow has no
# unsafe code, so the findings are panics, which need no sanitizer, and ASan would double the
# build. A finding is saved under fuzz/artifacts/TARGET/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-30}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okrflow-target}/fuzz"
if ! command -v cargo-fuzz >/dev/null; then
  cargo install --quiet --locked cargo-fuzz@0.13.1
fi

# Seed corpora: the demo job file, and the bodies of the demo's archived responses.
corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$corpus/job_file" "$corpus/looker_body" "$corpus/jira_body"
cp ../jobs/demo.toml "$corpus/job_file/"
python3 - "$corpus" <<'PY'
import glob, json, os, sys
corpus = sys.argv[1]
for target, pattern in [("looker_body", "../jobs/demo/raw/looker_demo/*json_detail*"),
                        ("jira_body", "../jobs/demo/raw/jira_demo/*search*")]:
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            body = json.load(f)["body"]
        with open(os.path.join(corpus, target, os.path.basename(path)), "w") as f:
            json.dump(body, f)
PY
cp ../tests/fixtures/looker/looker-json_detail*.json "$corpus/looker_body/"

cargo +nightly fuzz build --dev --sanitizer none
for target in job_file looker_body jira_body; do
  echo "# fuzz $target: ${seconds}s from $(ls "$corpus/$target" | wc -l) seeds"
  log="$corpus/$target.log"
  if ! cargo +nightly fuzz run --dev --sanitizer none "$target" "$corpus/$target" -- \
      -max_total_time="$seconds" -seed=1 -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz $target: found an input that fails (saved under fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|new_units_added|peak_rss_mb)" "$log"
done
