#!/usr/bin/env bash
# bench.sh - run the scrape benchmarks (collector/bench_test.go) at 1 000, 10 000 and
# 100 000 images and print one table: CPU per scrape, gzipped (the headline: what Prometheus
# asks for) and uncompressed, and its ratio to the floor (decoding the same bodies with
# encoding/json; the lean floor skips the metadata), the answer's size, peak resident set and heap, allocation; then the cost per
# image from 10 000 to 100 000 and that of 10 concurrent gzip scrapes. `make bench` runs it.
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
    if ($(i+1) == "peak-rss-B")  rss[kind, n] = $i
    if ($(i+1) == "B/op")        alloc[kind, n] = $i
    if ($(i+1) == "answer-B")    answer[kind, n] = $i
    if ($(i+1) == "body-B")      body[n] = $i
  }
  sizes[n] = 1
}
END {
  printf "\nGzip is what Prometheus asks for unless compression is turned off; the answer is read as sent (decoding it is Prometheus'"'"'s CPU).\n"
  printf "\n| images | body MB | floor CPU s | scrape gzip CPU s | gzip/floor | gzip/lean floor | scrape CPU s | plain/floor | client CPU s | exposition CPU s | gzip answer MB | plain answer MB | gzip peak RSS MB | peak RSS/body | gzip peak heap MB | gzip B/image |\n"
  printf "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
  n_sorted = split("1000 10000 100000", order, " ")
  for (k = 1; k <= n_sorted; k++) {
    n = order[k]
    if (!(n in sizes)) continue
    lean = cpu["FloorLean", n] > 0 ? sprintf("%.2f", cpu["ScrapeGzip", n]/cpu["FloorLean", n]) : "-"
    printf "| %d | %.1f | %.3f | %.3f | **%.2f** | %s | %.3f | %.2f | %.3f | %.3f | %.1f | %.1f | %.1f | %.2f | %.1f | %.0f |\n", n, body[n]/1e6,
      cpu["Floor", n]/1e9, cpu["ScrapeGzip", n]/1e9, cpu["ScrapeGzip", n]/cpu["Floor", n], lean,
      cpu["Scrape", n]/1e9, cpu["Scrape", n]/cpu["Floor", n], cpu["Client", n]/1e9, cpu["Exposition", n]/1e9,
      answer["ScrapeGzip", n]/1e6, answer["Scrape", n]/1e6,
      rss["ScrapeGzip", n]/1048576, rss["ScrapeGzip", n]/body[n], peak["ScrapeGzip", n]/1048576, alloc["ScrapeGzip", n]/n
  }
  if (cpu["ScrapeGzip", 10000] > 0) {
    printf "\nCPU per image, 100 000 vs 10 000 images (linear: about 1): gzip %.2f, plain %.2f\n",
      cpu["ScrapeGzip", 100000]/cpu["ScrapeGzip", 10000]/10, cpu["Scrape", 100000]/cpu["Scrape", 10000]/10
  }
  for (k = 2; k <= n_sorted; k++) {
    n = order[k]
    if (cpu["ScrapeGzipConcurrent", n] > 0 && cpu["ScrapeGzip", n] > 0)
      printf "10 concurrent gzip scrapes of %d images: %.3f CPU s, %.2f× one scrape (peak RSS %.1f MB)\n", n,
        cpu["ScrapeGzipConcurrent", n]/1e9, cpu["ScrapeGzipConcurrent", n]/cpu["ScrapeGzip", n], rss["ScrapeGzipConcurrent", n]/1048576
  }
}' "$out"
