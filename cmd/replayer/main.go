// Command replayer restores and inspects what tailerd stored.
//
//	replayer restore --store STORE --target URI [--to TS] [--stream NAME] [--drop]
//	                 [--after TS [--written TS]]
//	replayer restore --store STORE --cluster --target-for NAME=URI ... [--target URI]
//	                 [--skip-stream NAME ...] [--to TS] [--parallel N] [--drop] [--dry-run]
//	replayer apply   --oplog-file FILE --target URI [--to TS] [--drop] [--after TS [--written TS]]
//	replayer restore-dump --dump DIR | --archive FILE [--gzip] --target URI [--to TS]
//	                 [--oplog-file FILE ...] [--drop] [--workers N] [--spool-dir DIR]
//	                 [--after TS [--written TS]]
//	replayer export  --store STORE [--stream NAME] [--from TS] [--to TS] --out FILE
//	replayer list    --store STORE [--json]
//	replayer verify  --store STORE [--stream NAME]
//	replayer follow  --store STORE --target URI --checkpoint DIR [--stream NAME]
//	                 [--delay D] [--until TS] [--poll D] [--http-addr HOST:PORT] [--drop]
//
// STORE is a directory, s3://BUCKET/PREFIX?endpoint=HOST:PORT or
// kafka://HOST:PORT,.../TOPICPREFIX (package storeurl); S3 credentials come
// from the environment or ~/.aws/credentials, never the command line.
//
// TS is T.I (an exact oplog timestamp), T (a whole second, all its entries
// included) or RFC 3339; --to is inclusive and defaults to the latest
// restorable position. export writes the entries after --from (exclusive)
// through --to.
//
// A restore, apply or restore-dump that stops part-way prints how to finish
// it: the same command with --after (its resume point) and, when it wrote
// past that (a transaction was open there), --written; with both, nothing
// through --written is written again (docs/replay.md, "Stopping and
// resuming").
//
// Exit codes: 0 success, 1 failure, 2 bad usage, 3 --to outside the
// restorable window (verify: intact, but history has recorded gaps; export:
// the range is not inside one window; restore-dump: --to before the dump is
// consistent), 4 damaged store (verify found problems, or a restore or export
// met corruption; restore-dump: a damaged dump), 5 not a tidelog store,
// 6 target already holds the data (use --drop), 7 target unreachable, 8 entry
// not supported by the replayer. A cluster restore exits with the code of
// the first stream that failed. Encryption: a missing or wrong key is 2
// (verify: when keys were given; without any key verify checks what needs
// none, and passes with a notice), an unencrypted segment or snapshot where
// keys require encryption is 4. follow: 0 on --until reached or SIGINT/SIGTERM
// (the last apply committed), 3 a gap in the store (or --until or --delay
// before what the target holds), 4 a broken chain or damaged segment, 2 a
// checkpoint made for another store, stream or target, 9 a checkpoint
// directory that is damaged or not a follower's (see docs/follow.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
)

const (
	exitOK = iota
	exitFailure
	exitUsage
	exitWindow
	exitDamaged
	exitNotStore
	exitConflict
	exitTarget
	exitUnsupported
	exitCheckpoint
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  replayer restore --store STORE --target URI [--to TS] [--stream NAME] [--drop] [--after TS [--written TS]]
  replayer restore --store STORE --cluster --target-for NAME=URI ... [--target MONGOS_OR_CSRS_URI]
                   [--skip-stream NAME ...] [--to TS] [--parallel N] [--drop] [--dry-run]
                   (every stream, each shard and the config server, to one position)
  replayer apply   --oplog-file FILE --target URI [--to TS] [--drop] [--after TS [--written TS]]
  replayer restore-dump --dump DIR | --archive FILE [--gzip] --target URI [--to TS]
                        (also spelt: replayer restore --dump DIR | --archive FILE ...)
                   [--oplog-file FILE ...] [--drop] [--workers N] [--spool-dir DIR] [--after TS [--written TS]]
  replayer export  --store STORE [--stream NAME] [--from TS] [--to TS] --out FILE
  replayer list    --store STORE [--json]
  replayer verify  --store STORE [--stream NAME]
  replayer follow  --store STORE --target URI --checkpoint DIR [--stream NAME] [--delay D] [--until TS]
                   [--poll 200ms] [--http-addr HOST:PORT] [--drop] [--ready-lag D]
                   (a standby: restores the newest position once, then applies new segments as they come)
restore, apply, follow and restore-dump also take --ns-include/--ns-exclude PATTERN, --ns-from/--ns-to PATTERN,
--include-users, --cluster-target and --skip-unsupported REPORT (see -h of each).
restore, export, list, verify and follow read an encrypted store with --encryption-key-file FILE (or the
TIDELOG_ENCRYPTION_KEY environment variable, never a key on the command line); with keys, unencrypted
segments and snapshots are refused unless --allow-unencrypted (docs/encryption.md).
The password of the user a --target URI names may come from TIDELOG_TARGET_PASSWORD instead of the URI.
STORE: a directory, s3://BUCKET[/PREFIX]?endpoint=HOST:PORT[&tls=false&region=R&path_style=true&ca_file=FILE]
       or kafka://HOST:PORT[,HOST:PORT...][/TOPICPREFIX][?tls=true&ca_file=F&cert_file=F&key_file=F
       &sasl=plain|scram-sha-256|scram-sha-512&user=NAME&password_file=F]; S3 credentials from
       AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or MINIO_ROOT_USER/MINIO_ROOT_PASSWORD, ~/.aws/credentials),
       the Kafka password from password_file or TIDELOG_KAFKA_PASSWORD, never the URL.
TS: T.I (exact oplog timestamp), T (whole second, inclusive) or RFC 3339.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	log := zerolog.New(stderr).With().Timestamp().Str("cmd", "replayer").Logger()
	var err error
	switch args[0] {
	case "restore":
		if fromDump(args[1:]) {
			// `restore --dump DIR` / `--archive FILE`: a mongodump as the base.
			err = restoreDumpCmd(ctx, args[1:], stdout, stderr, log)
			break
		}
		err = restoreCmd(ctx, args[1:], stdout, stderr, log)
	case "apply":
		err = applyCmd(ctx, args[1:], stdout, stderr, log)
	case "restore-dump":
		err = restoreDumpCmd(ctx, args[1:], stdout, stderr, log)
	case "export":
		err = exportCmd(ctx, args[1:], stdout, stderr)
	case "list":
		err = listCmd(ctx, args[1:], stdout, stderr)
	case "verify":
		err = verifyCmd(ctx, args[1:], stdout, stderr)
	case "follow":
		err = followCmd(ctx, args[1:], stdout, stderr, log)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "replayer: unknown command %q\n%s\n", args[0], usage)
		return exitUsage
	}
	if err == nil {
		return exitOK
	}
	var ce *codedError
	if errors.As(err, &ce) {
		if ce.code != exitOK {
			fmt.Fprintf(stderr, "replayer %s: %v\n", args[0], ce.err)
		}
		return ce.code
	}
	fmt.Fprintf(stderr, "replayer %s: %v\n", args[0], err)
	return exitFailure
}

// codedError carries the exit code an error maps to.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func coded(code int, err error) error { return &codedError{code: code, err: err} }

// fromDump tells a restore whose base is a mongodump rather than a store.
func fromDump(args []string) bool {
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "dump" || name == "archive") {
			return true
		}
	}
	return false
}
