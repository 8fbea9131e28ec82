// Command api is the quickstart's API: it counts visits in the store and
// greets. It finds the store through the variable apphostd injects for the
// reference (STORE_HTTP).
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func main() {
	store := os.Getenv("STORE_HTTP")
	greeting := os.Getenv("GREETING")
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	http.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) {
		n := 0
		if resp, err := http.Get(store + "/kv/visits"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			n, _ = strconv.Atoi(string(b))
		}
		n++
		req, _ := http.NewRequest(http.MethodPut, store+"/kv/visits", strings.NewReader(strconv.Itoa(n)))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		} else {
			http.Error(w, "store unavailable: "+err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "%s (visit %d)\n", greeting, n)
	})
	addr := "127.0.0.1:" + os.Getenv("PORT")
	log.Printf("api listening on %s, store at %s", addr, store)
	log.Fatal(http.ListenAndServe(addr, nil))
}
