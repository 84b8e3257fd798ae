package simulator

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Generated is an image set made on demand: image i (0 the newest) is made from its index
// whenever a listing or a quota reads it, so that the simulator holds nothing per image and
// serves a million images as it serves ten. The images are of GenerateImages' kind (the
// same statuses, sizes, owners, names and metadata in the same proportions); image i is
// created i·Step before Now, less a minute, so that the set is newest first as a real
// listing; the last 12 hex digits of an id are its index, so that a marker finds its image
// at once.
type Generated struct {
	// N is the number of images; 0 means none (the set of Options.Images instead).
	N int
	// Seed makes the set: the same seed, N and Now give the same images.
	Seed int64
	// Now is the time the images' times are before; the zero time means the simulator's
	// clock when the set is installed.
	Now time.Time
	// Step is the time between two images' creation; 0 means a year over N. It is at
	// least a second, and at most 30 years over N.
	Step time.Duration
}

// generatedIndexDigits is how many hex digits at the end of a generated id hold its index.
const generatedIndexDigits = 12

// maxGenerated is the largest N: a hundred million images, created a second apart, span
// three years.
const maxGenerated = 100_000_000

// maxGeneratedSpan is the longest time the set's creation times span: the oldest image is
// at most this old.
const maxGeneratedSpan = 30 * 365 * 24 * time.Hour

// normalized returns g with its defaults, at whole seconds, its N within maxGenerated.
func (g Generated) normalized(now time.Time) Generated {
	g.N = min(max(g.N, 0), maxGenerated)
	if g.Now.IsZero() {
		g.Now = now
	}
	g.Now = g.Now.UTC().Truncate(time.Second)
	if g.Step <= 0 && g.N > 0 {
		g.Step = 365 * 24 * time.Hour / time.Duration(g.N)
	}
	g.Step = min(g.Step, maxGeneratedSpan/time.Duration(max(g.N, 1)))
	g.Step = max(g.Step.Truncate(time.Second), time.Second)
	return g
}

// image makes image i of the set, 0 ≤ i < N.
func (g *Generated) image(i int) Image {
	r := rand.New(rand.NewPCG(uint64(g.Seed), uint64(i)))
	created := g.Now.Add(-time.Minute - time.Duration(i)*g.Step)
	img := genImage(r, i, g.Now, func(*rand.Rand) time.Time { return created })
	idx := strconv.FormatUint(uint64(i), 16)
	tail := len(img.ID) - generatedIndexDigits
	img.ID = img.ID[:tail] + "000000000000"[len(idx):] + idx
	return img
}

// index returns the index of the image with id, false when the set has none.
func (g *Generated) index(id string) (int, bool) {
	if len(id) < generatedIndexDigits {
		return 0, false
	}
	i, err := strconv.ParseUint(id[len(id)-generatedIndexDigits:], 16, 64)
	if err != nil || i >= uint64(g.N) {
		return 0, false
	}
	if g.image(int(i)).ID != id {
		return 0, false
	}
	return int(i), true
}
