package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// ScrapeTimeouts decide how long one scrape may list images.
type ScrapeTimeouts struct {
	// Default applies when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds, and
	// caps the header's value when it does: no scrape waits longer, and a listing shared
	// by several scrapes runs at most this long.
	Default time.Duration
	// Offset is subtracted from the header's value, leaving time to encode and send.
	Offset time.Duration
}

// Timeout returns the listing deadline for r: Prometheus's scrape timeout minus Offset,
// capped by Default. A malformed header is reported as an error and Default used.
func (t ScrapeTimeouts) Timeout(r *http.Request) (time.Duration, error) {
	header := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	if header == "" {
		return t.Default, nil
	}
	seconds, err := strconv.ParseFloat(header, 64)
	if err != nil || math.IsNaN(seconds) || seconds <= 0 || seconds > 1e6 {
		return t.Default, fmt.Errorf("X-Prometheus-Scrape-Timeout-Seconds %s is not a positive number of seconds", client.QuoteTruncated(header, 32))
	}
	timeout := time.Duration(seconds * float64(time.Second))
	if timeout > t.Offset {
		timeout -= t.Offset
	}
	return min(timeout, t.Default), nil
}

// Limiter bounds how much work runs at once: each listing in flight and each rendering of
// a listing takes a slot. Scrapes waiting for a listing in flight take none. The listings
// that go on in the background, with --cache.ttl, once no scrape waits for them, hold at
// most half of the slots (rounded up), so that scrapes that go away cannot leave every slot
// to listings no one waits for. A nil Limiter bounds nothing.
type Limiter struct {
	slots chan struct{}
	// background are the slots that listings in the background may hold.
	background chan struct{}
}

// ErrBusy says that a listing was needed but every slot was taken.
var ErrBusy = errors.New("no free slot to start a listing")

// NewLimiter allows n slots, of which listings in the background may hold half, rounded
// up; n <= 0 means no bound (a nil Limiter).
func NewLimiter(n int) *Limiter {
	if n <= 0 {
		return nil
	}
	return &Limiter{slots: make(chan struct{}, n), background: make(chan struct{}, (n+1)/2)}
}

// Size is how many slots l allows; 0 for no bound.
func (l *Limiter) Size() int {
	if l == nil {
		return 0
	}
	return cap(l.slots)
}

func (l *Limiter) tryAcquire() bool {
	if l == nil {
		return true
	}
	return tryTake(l.slots)
}

// tryBackground lets a listing that holds a slot go on in the background, if fewer than the
// bound do; releaseBackground lets go of that.
func (l *Limiter) tryBackground() bool {
	if l == nil {
		return true
	}
	return tryTake(l.background)
}

func (l *Limiter) releaseBackground() {
	if l != nil {
		<-l.background
	}
}

// tryTake takes one of slots if one is free.
func tryTake(slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// acquire waits for a slot until ctx ends: ErrBusy if its deadline passed first.
func (l *Limiter) acquire(ctx context.Context) error {
	if l == nil {
		return nil
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ErrBusy
		}
		return ctx.Err()
	}
}

func (l *Limiter) release() {
	if l != nil {
		<-l.slots
	}
}

// workSlot is the slot a scrape renders its own answer under. It is let go while the answer
// is sent and taken again to render more, so that a scraper that reads slowly holds none;
// what the scraper is sent meanwhile is its listing, held and charged to Memory.
type workSlot struct {
	limiter *Limiter
	held    bool
}

// takeSlot waits for a slot of limiter until ctx ends (ErrBusy if its deadline passed first).
func takeSlot(ctx context.Context, limiter *Limiter) (*workSlot, error) {
	if err := limiter.acquire(ctx); err != nil {
		return nil, err
	}
	return &workSlot{limiter: limiter, held: true}, nil
}

// release lets go of the slot if held; nil holds none.
func (s *workSlot) release() {
	if s != nil && s.held {
		s.held = false
		s.limiter.release()
	}
}

// writer is w, which lets go of the slot while each write to w lasts and takes it again,
// waiting until ctx ends, before the answer is rendered further; w itself for a nil slot.
func (s *workSlot) writer(ctx context.Context, w io.Writer) io.Writer {
	if s == nil {
		return w
	}
	return &slotFreeWriter{ctx: ctx, slot: s, w: w}
}

// slotFreeWriter writes without holding its slot.
type slotFreeWriter struct {
	ctx  context.Context
	slot *workSlot
	w    io.Writer
}

func (f *slotFreeWriter) Write(p []byte) (int, error) {
	f.slot.release()
	n, err := f.w.Write(p)
	if err != nil {
		return n, err
	}
	if err := f.slot.limiter.acquire(f.ctx); err != nil {
		return n, fmt.Errorf("waiting for a work slot to render the rest of the answer: %w", err)
	}
	f.slot.held = true
	return n, nil
}
