package collector

import (
	"strconv"
	"strings"
)

// acceptsGzip reports whether an Accept-Encoding header allows gzip (RFC 9110, 12.5.3):
// gzip or x-gzip named with a weight above 0, or, if neither is named, * with one. A weight
// is q=0 to q=1 with up to any number of decimals; one that is not refuses.
func acceptsGzip(header string) bool {
	named, gzipWeight, anyWeight := false, 0.0, 0.0
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		switch coding = strings.ToLower(strings.TrimSpace(coding)); coding {
		case "gzip", "x-gzip":
			named = true
			gzipWeight = max(gzipWeight, weight(params))
		case "*":
			anyWeight = max(anyWeight, weight(params))
		}
	}
	if named {
		return gzipWeight > 0
	}
	return anyWeight > 0
}

// weight is the q parameter among a coding's parameters ("q=0.5;level=1"): 1 without one,
// 0 for one that is not a weight.
func weight(params string) float64 {
	for param := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(param, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		value = strings.TrimSpace(value)
		if !isWeight(value) {
			return 0
		}
		q, _ := strconv.ParseFloat(value, 64)
		return q
	}
	return 1
}

// isWeight reports whether s is written as a weight: 0 or 1, then optionally a point and
// decimals, and not above 1.
func isWeight(s string) bool {
	integer, decimals, _ := strings.Cut(s, ".")
	if integer != "0" && integer != "1" {
		return false
	}
	for _, c := range decimals {
		if c < '0' || c > '9' || integer == "1" && c != '0' {
			return false
		}
	}
	return true
}
