//go:build !unix

package spool

import "os"

// lockDir opens the lock file; without flock the spool relies on the operator
// running one process per spool directory.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
}

func unlockDir(f *os.File) error { return f.Close() }
