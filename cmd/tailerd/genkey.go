package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/internal/durable"
)

// runGenkey is `tailerd genkey [-o FILE]`: a new random encryption key, in
// the key-file format, written to FILE (created with mode 0600; an
// existing file is never overwritten, as that would lose the key it holds)
// or to standard output. The key id goes to stderr, so that it can be
// noted without the key.
func runGenkey(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tailerd genkey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the key to `FILE`, created with mode 0600 (never overwriting an existing file); default: standard output")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tailerd genkey [-o FILE]\n\n"+
			"Writes a new random AES-256 key for --encryption-key-file (or "+crypt.EnvVar+") and prints its id on stderr.\n"+
			"Keep a copy of the key away from the backups it protects: losing it loses them (docs/encryption.md).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tailerd genkey: unexpected argument %q (the file goes after -o)\n", fs.Arg(0))
		return exitUsage
	}
	k := crypt.NewKey()
	if *out == "" {
		fmt.Fprintln(stdout, crypt.FormatKey(k))
		fmt.Fprintf(stderr, "tailerd genkey: new key id %s\n", k.ID())
		return exitOK
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		fmt.Fprintf(stderr, "tailerd genkey: %s already exists: genkey never overwrites a key file (that would lose its key); "+
			"choose another name, and to rotate put the new key on the first line of the existing file by hand\n", *out)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "tailerd genkey: %v\n", err)
		return exitFailure
	}
	body := fmt.Sprintf("# tidelog encryption key %s, made %s. Keep a copy away from the backups: without it they cannot be read.\n%s\n",
		k.ID(), time.Now().UTC().Format(time.RFC3339), crypt.FormatKey(k))
	_, err = f.WriteString(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Backups may be encrypted with this key the moment it exists: a
		// crash must not lose the file's directory entry.
		err = durable.SyncDir(filepath.Dir(*out))
	}
	if err != nil {
		os.Remove(*out)
		fmt.Fprintf(stderr, "tailerd genkey: write %s: %v\n", *out, err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "tailerd genkey: wrote a new key to %s (mode 0600), key id %s\n", *out, k.ID())
	return exitOK
}
