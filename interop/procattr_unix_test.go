//go:build unix && !linux

package interop

import "syscall"

// procAttr puts a server in its own process group (stopped as a whole).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
