#!/usr/bin/env bash
# bench-million.sh - run the exporter as a process of its own against the simulator's generated
# images (BenchmarkExporterProcess in cmd/nova_image_exporter/process_bench_test.go) at 100 000
# and 1 000 000 images, gzipped scrapes with per-image series for the images not ACTIVE and the
# aggregates of all, and print one table of medians: the exporter's CPU per scrape and per listed
# image, its ratio to the 100 000-image figure, the peak resident set (VmHWM), the answer's size
# and series. `make bench-million` runs it; it takes minutes.
#   COUNT=5 bash scripts/bench-million.sh                 # runs per size (default 3)
#   EXPORTER_BENCH_IMAGES=10000,100000 bash scripts/bench-million.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench ExporterProcess -benchtime "${BENCHTIME:-1x}" -count "${COUNT:-3}" -timeout 60m \
  ./cmd/nova_image_exporter | tee "$out" >&2

echo
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(go version | cut -d' ' -f3)"
awk '
function sorted(list, a,   m, i, j, v) {
  m = split(list, a, " ")
  for (i = 2; i <= m; i++) {
    v = a[i] + 0
    for (j = i - 1; j >= 1 && a[j] + 0 > v; j--) a[j+1] = a[j]
    a[j+1] = v
  }
  return m
}
function median(list,   a, m) {
  m = sorted(list, a)
  return m % 2 ? a[(m+1)/2] : (a[m/2] + a[m/2+1]) / 2
}
function range(list,   a, m) {
  m = sorted(list, a)
  return sprintf("%.1f–%.1f", a[1]/1000, a[m]/1000)
}
/^BenchmarkExporterProcess\// {
  n = $1; sub(/^.*images=/, "", n); sub(/-[0-9]+$/, "", n)
  for (i = 3; i < NF; i++) {
    if ($(i+1) == "cpu-ns/op")    cpu[n] = cpu[n] " " $i
    if ($(i+1) == "cpu-ns/image") per[n] = per[n] " " $i
    if ($(i+1) == "peak-rss-B")   rss[n] = rss[n] " " $i
    if ($(i+1) == "start-rss-B")  start[n] = start[n] " " $i
    if ($(i+1) == "answer-B")     answer[n] = $i
    if ($(i+1) == "series")       series[n] = $i
  }
  if (!(n in seen)) { seen[n] = 1; order[++count] = n }
}
END {
  printf "\n| images | runs | CPU s/scrape | CPU µs/image (range) | per image / 100 000 | peak RSS MiB | start RSS MiB | gzip answer MB | series |\n"
  printf "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
  for (k = 1; k <= count; k++) {
    n = order[k]
    runs = split(per[n], tmp, " ")
    ratio = (100000 in per) ? sprintf("%.2f", median(per[n]) / median(per[100000])) : "-"
    printf "| %d | %d | %.2f | %.1f (%s) | %s | %.1f | %.1f | %.1f | %d |\n", n, runs, median(cpu[n])/1e9,
      median(per[n])/1000, range(per[n]), ratio, median(rss[n])/1048576, median(start[n])/1048576,
      answer[n]/1e6, series[n]
  }
}' "$out"
