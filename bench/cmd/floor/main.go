// Command floor is the W1 floor of BENCHMARKS.md: it spawns N copies of a
// server directly, each on its own port, polls every /healthz every 10 ms
// until all answer 200, prints the elapsed time, and kills them.
//
//	floor -n 100 -server ./server
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 100, "number of servers")
	server := flag.String("server", "", "server binary")
	flag.Parse()
	ports := make([]int, *n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	start := time.Now()
	cmds := make([]*exec.Cmd, *n)
	for i, p := range ports {
		c := exec.Command(*server)
		c.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", p))
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cmds[i] = c
	}
	spawned := time.Since(start)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var wg sync.WaitGroup
	for _, p := range ports {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			url := fmt.Sprintf("http://127.0.0.1:%d/healthz", p)
			for {
				if resp, err := client.Get(url); err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						return
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
		}(p)
	}
	wg.Wait()
	fmt.Printf("all %d healthy in %v (spawned in %v)\n", *n, time.Since(start), spawned)
	for _, c := range cmds {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
}
