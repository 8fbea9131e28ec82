package daemon

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
)

func inputsDigest(t *testing.T, dir string, pats ...string) string {
	t.Helper()
	h := sha256.New()
	if err := hashInputs(h, dir, pats); err != nil {
		t.Fatal(err)
	}
	return string(h.Sum(nil))
}

func TestHashInputsFollowsContents(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "migrations", "sub"), 0o755)
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("migrations/001.sql", "create table a;")
	write("schema.sql", "x")
	d0 := inputsDigest(t, dir, "migrations/*.sql", "schema.sql")
	if d := inputsDigest(t, dir, "schema.sql", "migrations/*.sql"); d != d0 {
		t.Error("pattern order changed the digest")
	}
	write("migrations/001.sql", "create table b;")
	d1 := inputsDigest(t, dir, "migrations/*.sql", "schema.sql")
	if d1 == d0 {
		t.Error("changed file content did not change the digest")
	}
	write("migrations/002.sql", "")
	if d := inputsDigest(t, dir, "migrations/*.sql", "schema.sql"); d == d1 {
		t.Error("a new matching (empty) file did not change the digest")
	}
	// A directory counts with everything under it.
	dd := inputsDigest(t, dir, "migrations")
	write("migrations/sub/x.sql", "1")
	if d := inputsDigest(t, dir, "migrations"); d == dd {
		t.Error("a file under a directory input did not change the digest")
	}
}

func TestOnceStorePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "once.json")
	s := loadOnce(path, zap.NewNop())
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { s.loop(stop); close(done) }()
	s.mu.Lock()
	saved := s.saved
	s.mu.Unlock()
	s.Put("migrate", "k1")
	select {
	case <-saved:
	case <-time.After(5 * time.Second):
		t.Fatal("not written")
	}
	if got := loadOnce(path, zap.NewNop()).Get("migrate"); got != "k1" {
		t.Fatalf("reloaded %q", got)
	}
	s.Forget("migrate")
	close(stop)
	<-done
	if got := loadOnce(path, zap.NewNop()).Get("migrate"); got != "" {
		t.Fatalf("after Forget and stop: %q", got)
	}
	// A corrupt file is an empty store: the job runs again.
	os.WriteFile(path, []byte("{nope"), 0o600)
	if got := loadOnce(path, zap.NewNop()).Get("migrate"); got != "" {
		t.Fatalf("corrupt file gave %q", got)
	}
}
