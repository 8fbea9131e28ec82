package discovery

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"

	"github.com/apphostd/apphostd/pkg/fsutil"
	"github.com/apphostd/apphostd/pkg/model"
)

// Secrets persists generated parameter values so restarts and reloads keep
// them. The file is JSON, mode 0600, written atomically.
type Secrets struct {
	path string
	mu   sync.Mutex
	vals map[string]string
}

// LoadSecrets reads the secrets file; a missing file is empty. A corrupt
// file is an error: silently regenerating would change database passwords
// under existing data.
func LoadSecrets(path string) (*Secrets, error) {
	s := &Secrets{path: path, vals: map[string]string{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	if err := json.Unmarshal(b, &s.vals); err != nil {
		return nil, fmt.Errorf("secrets file %s is corrupt (%v); fix or remove it (removing regenerates passwords)", path, err)
	}
	return s, nil
}

// GetOrGenerate returns the persisted value for name, generating and
// persisting one first if there is none.
func (s *Secrets) GetOrGenerate(name string, g *model.GenerateSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vals[name]; ok {
		return v, nil
	}
	v, err := Generate(g)
	if err != nil {
		return "", err
	}
	s.vals[name] = v
	if err := fsutil.WriteJSONAtomic(s.path, s.vals); err != nil {
		delete(s.vals, name)
		return "", err
	}
	return v, nil
}

// Generate makes a random value per the spec using crypto/rand.
func Generate(g *model.GenerateSpec) (string, error) {
	n := g.Length
	if n <= 0 {
		n = 22
	}
	var alphabet string
	if g.Lower {
		alphabet += "abcdefghijklmnopqrstuvwxyz"
	}
	if g.Upper {
		alphabet += "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	}
	if g.Numeric {
		alphabet += "0123456789"
	}
	if g.Special {
		// URL-safe specials only, so generated passwords drop into
		// connection URIs without escaping surprises.
		alphabet += "-_.~"
	}
	if alphabet == "" {
		alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	}
	out := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range out {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate: %w", err)
		}
		out[i] = alphabet[k.Int64()]
	}
	return string(out), nil
}

// ReadParametersFile reads .apphost/parameters: NAME=VALUE lines, '#'
// comments. A missing file is empty.
func ReadParametersFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: expected NAME=VALUE", path, line)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, sc.Err()
}
