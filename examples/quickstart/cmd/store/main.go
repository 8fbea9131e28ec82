// Command store is the quickstart's key-value service: GET/PUT /kv/KEY.
package main

import (
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
)

func main() {
	var mu sync.Mutex
	data := map[string]string{}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	http.HandleFunc("/kv/", func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/kv/")
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case http.MethodPut:
			b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			data[key] = string(b)
			log.Printf("stored %q", key)
		default:
			v, ok := data[key]
			if !ok {
				http.NotFound(w, r)
				return
			}
			io.WriteString(w, v)
		}
	})
	addr := "127.0.0.1:" + os.Getenv("PORT")
	log.Printf("store listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
