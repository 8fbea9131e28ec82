package process

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// waitChild waits for a child this Driver started and returns its exit
// code (128+signal when killed by one).
//
// cmd.Wait would block an OS thread in wait4 for the child's whole life:
// with 100 resources that is 100 threads, each with its own stacks, a few
// MiB of the daemon's memory for nothing. Instead a pidfd is registered
// with the runtime's poller, which parks only a goroutine; once it turns
// readable the child is a zombie and wait4 reaps it at once. Without pidfd
// (old kernels) it falls back to cmd.Wait.
func waitChild(cmd *exec.Cmd) int {
	pid := cmd.Process.Pid
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return cmdWait(cmd)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return cmdWait(cmd)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid))
	defer f.Close()
	rc, err := f.SyscallConn()
	if err == nil {
		err = rc.Read(func(fd uintptr) bool {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, err := unix.Poll(fds, 0)
			return (err != nil && err != unix.EINTR) || n > 0
		})
	}
	if err != nil {
		return cmdWait(cmd)
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	_ = cmd.Process.Release()
	if err != nil {
		return -1
	}
	return exitCode(ws)
}

func cmdWait(cmd *exec.Cmd) int {
	_ = cmd.Wait() // the exit status is in ProcessState; other errors cannot occur without pipes
	if ps := cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			return exitCode(ws)
		}
		return ps.ExitCode()
	}
	return -1
}

func exitCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Signaled():
		return 128 + int(ws.Signal())
	case ws.Exited():
		return ws.ExitStatus()
	}
	return -1
}
