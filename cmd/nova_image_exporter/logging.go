package main

import (
	"io"
	"log/slog"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// newLogger returns the go-kit logger that --log.level and --log.format describe, and the
// same logger without timestamp and caller for the slog bridge, which adds its own.
func newLogger(w io.Writer, lvl, format string) (logger, bare log.Logger) {
	if format == "json" {
		logger = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		logger = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	bare = level.NewFilter(logger, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	return log.With(bare, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller), bare
}

// slogLevel is the slog level of the same --log.level, for the exporter toolkit's logger.
func slogLevel(lvl string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(lvl)); err != nil {
		return slog.LevelInfo
	}
	return l
}
