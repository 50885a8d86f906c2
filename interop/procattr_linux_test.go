package interop

import "syscall"

// procAttr puts a server in its own process group (stopped as a whole)
// and has the kernel kill it if the test process dies without stopping
// it (a test binary killed on its timeout runs no cleanup).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
