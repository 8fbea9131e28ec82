package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// interactive reports whether f is a terminal and neither CI nor NO_COLOR
// asks for plain output.
func interactive(f *os.File) bool {
	if os.Getenv("CI") != "" || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
