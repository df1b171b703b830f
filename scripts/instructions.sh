#!/usr/bin/env bash
# Instructions per packet of each engine on each example of the engine comparison,
# counted by callgrind (docs/performance.md): deterministic for a given build, unlike
# times on a shared machine. Each case runs twice (A and B passes over its capture);
# the difference divided by the packets between the two runs leaves out loading and
# compiling the program. Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
A=${A:-50}
B=${B:-150}
cargo build -q --release -p planp-interp --example count
bin=target/release/examples/count

# instructions of one run
ir() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 >/dev/null |
    sed -n 's/.*refs: *//p' | tr -d ','
}
# packets of one pass
packets() { "$bin" "$1" interp 1 | cut -d' ' -f1; }

per_packet() {
  local a b n
  a=$(ir "$1" "$2" "$A")
  b=$(ir "$1" "$2" "$B")
  n=$(packets "$1")
  echo $(((b - a) / ((B - A) * n)))
}

echo "| example | interp (instructions/packet) | JIT (instructions/packet) | interp / JIT | Rust (instructions/packet) |"
echo "|---|---:|---:|---:|---:|"
for ex in figure2 figure4 tour heavy; do
  i=$(per_packet "$ex" interp)
  j=$(per_packet "$ex" jit)
  r="—"
  if [ "$ex" = figure2 ]; then r=$(per_packet "$ex" rust); fi
  ratio=$(awk -v i="$i" -v j="$j" 'BEGIN { printf "%.2fx", i / j }')
  echo "| $ex | $i | $j | $ratio | $r |"
done
