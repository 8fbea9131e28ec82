// Command server is the benchmarks' workload (BENCHMARKS.md W1): a tiny
// HTTP server on 127.0.0.1:$PORT answering /healthz.
package main

import (
	"io"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		os.Exit(1)
	}
}
