package api

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// peerAllowed is the access rule: the daemon's own user and root may talk to
// it; nobody else, even if the socket's mode were loosened by hand.
func peerAllowed(peerUID, selfUID uint32) bool {
	return peerUID == selfUID || peerUID == 0
}

// peerUID reads the connecting process's uid with SO_PEERCRED. Connections
// that are not unix sockets have no peer credentials and are refused.
func peerUID(c net.Conn) (uint32, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, fmt.Errorf("peer credentials: %T is not a socket", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return 0, fmt.Errorf("peer credentials: %w", serr)
	}
	return cred.Uid, nil
}

// peerCredListener closes every accepted connection whose peer fails
// peerAllowed, before a single byte of it is read.
type peerCredListener struct {
	net.Listener
	allow func(uid uint32) bool
	log   *zap.Logger
}

func (l *peerCredListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && l.allow(uid) {
			return c, nil
		}
		if err == nil {
			err = errors.New("uid not allowed")
			l.log.Warn("refused api connection", zap.Uint32("peer_uid", uid), zap.Error(err))
		} else {
			l.log.Warn("refused api connection", zap.Error(err))
		}
		c.Close()
	}
}
