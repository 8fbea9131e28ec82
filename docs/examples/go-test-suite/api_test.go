package shop_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// apiURL is the api resource's URL, injected by apphostd as API_HTTP (and
// services__api__http__0). Without it the services are not up: fail,
// saying how to run the suite, rather than skip silently.
func apiURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("API_HTTP")
	if u == "" {
		t.Fatal("API_HTTP is not set: run the suite with `apphostd run -- go test ./...`")
	}
	return u
}

func TestHello(t *testing.T) {
	resp, err := http.Get(apiURL(t) + "/hello?name=ci")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != "hello, ci" {
		t.Fatalf("GET /hello: %d %q", resp.StatusCode, b)
	}
}
