package cloud

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v2"
)

// TLSFiles are the paths of the CA bundle, client certificate and client key that a
// clouds.yaml entry names.
type TLSFiles struct {
	CACert string `yaml:"cacert"`
	Cert   string `yaml:"cert"`
	Key    string `yaml:"key"`
}

// tlsFileDigests are the SHA-256 digests of the files that sets name, and of those that
// OS_CACERT, OS_CERT and OS_KEY name (gophercloud prefers them), for the fingerprint: a
// rotated certificate is a changed configuration. A file that cannot be read has its
// error instead (the configuration then fails to load anyway).
func tlsFileDigests(sets ...TLSFiles) []string {
	paths := []string{os.Getenv("OS_CACERT"), os.Getenv("OS_CERT"), os.Getenv("OS_KEY")}
	for _, s := range sets {
		paths = append(paths, s.CACert, s.Cert, s.Key)
	}
	digests := make([]string, len(paths))
	for i, path := range paths {
		if path == "" {
			continue
		}
		content, err := os.ReadFile(expandHome(path))
		if err != nil {
			digests[i] = err.Error()
			continue
		}
		sum := sha256.Sum256(content)
		digests[i] = hex.EncodeToString(sum[:])
	}
	return digests
}

// expandHome resolves a leading ~/ as gophercloud does for these paths.
func expandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}

func fingerprint(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		b, _ := yaml.Marshal(p)
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
