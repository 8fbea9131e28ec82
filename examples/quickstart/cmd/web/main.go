// Command web is the quickstart's front end: it renders what the api says.
// It uses Aspire's service-discovery variable for the api
// (services__api__http__0), so it would run unchanged under Aspire.
package main

import (
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"os"
)

func main() {
	api := os.Getenv("services__api__http__0")
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		resp, err := http.Get(api + "/hello")
		if err != nil {
			http.Error(w, "api unavailable: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(w, "<!doctype html><title>quickstart</title><h1>%s</h1>\n", html.EscapeString(string(b)))
	})
	addr := "127.0.0.1:" + os.Getenv("PORT")
	log.Printf("web listening on http://%s, api at %s", addr, api)
	log.Fatal(http.ListenAndServe(addr, nil))
}
