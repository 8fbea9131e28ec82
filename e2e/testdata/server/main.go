// Command server is the end-to-end tests' workload: an HTTP server on
// 127.0.0.1:$PORT with /healthz, /env (its environment as JSON) and
// /get?url= (fetch another service). It prints its environment's MESSAGE
// at start so tests can find it in logs.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

func main() {
	if os.Getenv("EXIT_AT_START") != "" {
		fmt.Println("exiting at start as asked")
		os.Exit(3)
	}
	fmt.Printf("server starting: %s\n", os.Getenv("MESSAGE"))
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if os.Getenv("UNHEALTHY") != "" {
			http.Error(w, "unhealthy as asked", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	http.HandleFunc("/env", func(w http.ResponseWriter, _ *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		_ = json.NewEncoder(w).Encode(env)
	})
	http.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
