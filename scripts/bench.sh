#!/usr/bin/env bash
# bench.sh - run the scrape benchmarks (collector/bench_test.go) at 1 000, 10 000 and
# 100 000 images and print one table: CPU per scrape and its ratio to the floor (decoding
# the same bodies with encoding/json), allocation and peak heap. `make bench` runs it.
#   BENCHTIME=5x bash scripts/bench.sh      # more iterations per size (default 3x)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench 'Floor|Client|Scrape|Exposition' -benchtime "${BENCHTIME:-3x}" ./collector | tee "$out" >&2

echo
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(go version | cut -d' ' -f3)"
awk '
/^Benchmark/ {
  split($1, parts, "/"); kind = parts[1]; sub(/^Benchmark/, "", kind)
  n = parts[2]; sub(/^images=/, "", n); sub(/-[0-9]+$/, "", n)
  for (i = 3; i < NF; i++) {
    if ($(i+1) == "cpu-ns/op")   cpu[kind, n] = $i
    if ($(i+1) == "peak-heap-B") peak[kind, n] = $i
    if ($(i+1) == "B/op")        alloc[kind, n] = $i
    if ($(i+1) == "body-B")      body[n] = $i
  }
  sizes[n] = 1
}
END {
  printf "\n| images | body MB | floor CPU s | client CPU s | scrape CPU s | scrape+gzip CPU s | exposition CPU s | client/floor | scrape/floor | scrape B/image | scrape peak heap MB | peak/body |\n"
  printf "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
  n_sorted = split("1000 10000 100000", order, " ")
  for (k = 1; k <= n_sorted; k++) {
    n = order[k]
    if (!(n in sizes)) continue
    printf "| %d | %.1f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f | %.0f | %.1f | %.2f |\n", n, body[n]/1e6,
      cpu["Floor", n]/1e9, cpu["Client", n]/1e9, cpu["Scrape", n]/1e9, cpu["ScrapeGzip", n]/1e9, cpu["Exposition", n]/1e9,
      cpu["Client", n]/cpu["Floor", n], cpu["Scrape", n]/cpu["Floor", n], alloc["Scrape", n]/n,
      peak["Scrape", n]/1048576, peak["Scrape", n]/body[n]
    per[n] = cpu["Scrape", n]/n
  }
  if (per[10000] > 0) printf "\nscrape CPU per image, 100 000 vs 10 000 images: %.2f (linear: about 1)\n", per[100000]/per[10000]
}' "$out"
