package main

import (
	"io"
	"log/slog"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// timeKey is the key of every log line's time, UTC and RFC 3339 with nanoseconds, in the
// exporter's own lines and in the exporter toolkit's alike.
const timeKey = "ts"

// newLogger returns the go-kit logger that --log.level and --log.format describe, and the
// same logger without caller, for the slog bridge that the exporter toolkit logs through
// (the bridge adds its own caller, and its slog time becomes ts, so that the toolkit's lines
// look like the others) and for net/http's error log, whose caller would be meaningless.
func newLogger(w io.Writer, lvl, format string) (logger, bare log.Logger) {
	if format == "json" {
		logger = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		logger = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	filtered := level.NewFilter(logger, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	return log.With(filtered, timeKey, log.DefaultTimestampUTC, "caller", log.DefaultCaller), slogTimeAsTS(filtered)
}

// slogTimeAsTS logs to next with the slog bridge's time (key "time", a time.Time) turned
// into the exporter's ts, placed as in the exporter's own lines: after the level.
func slogTimeAsTS(next log.Logger) log.Logger {
	return log.LoggerFunc(func(keyvals ...any) error {
		when := time.Now()
		head := make([]any, 0, 4)
		rest := make([]any, 0, len(keyvals))
		for i := 0; i < len(keyvals); i += 2 {
			if i+1 == len(keyvals) { // an odd key without a value: go-kit marks it missing
				rest = append(rest, keyvals[i])
				break
			}
			key, value := keyvals[i], keyvals[i+1]
			if t, isTime := value.(time.Time); isTime && key == slog.TimeKey {
				when = t
				continue
			}
			if key == level.Key() {
				head = append(head, key, value)
				continue
			}
			rest = append(rest, key, value)
		}
		head = append(head, timeKey, when.UTC().Format(time.RFC3339Nano))
		return next.Log(append(head, rest...)...)
	})
}

// slogLevel is the slog level of the same --log.level, for the exporter toolkit's logger.
func slogLevel(lvl string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(lvl)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// loggedError is an error that run has logged already, at error level, so that main does
// not print it a second time.
type loggedError struct{ error }

func (e loggedError) Unwrap() error { return e.error }
