package api

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apphostd/apphostd/pkg/status"
)

func TestUpAndRerunRoutes(t *testing.T) {
	f := newFake()
	h := startServer(t, f)
	ctx := context.Background()
	if err := h.c.Up(ctx, []string{"api", "db"}, []string{"debug"}); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Up(ctx, []string{"nope"}, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Up of an unknown resource: %v, want not found", err)
	}
	r, err := h.c.Rerun(ctx, "db", time.Second)
	if err != nil || r.State != status.Finished {
		t.Fatalf("Rerun = %+v, %v", r, err)
	}
	calls := strings.Join(f.Calls(), "|")
	if !strings.Contains(calls, "up [api db] [debug]") || !strings.Contains(calls, "rerun db") {
		t.Fatalf("calls %s", calls)
	}
}

func TestActionTimeoutSaysWhereItIs(t *testing.T) {
	f := newFake()
	f.slow["api"] = time.Hour
	f.store.Update("api", func(r *status.Resource) { r.State, r.Reason = status.Waiting, "waiting for db to be healthy" })
	h := startServer(t, f)
	_, err := h.c.Restart(context.Background(), "api", 50*time.Millisecond)
	var ae *APIError
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &ae) {
		t.Fatalf("Restart err = %#v, want timeout", err)
	}
	if !strings.Contains(ae.Message, "api is Waiting: waiting for db to be healthy") {
		t.Fatalf("timeout message %q does not say where the resource is", ae.Message)
	}
}
