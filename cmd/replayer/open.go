package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/storeurl"
)

// storeHelp is --store's help in every subcommand that reads a store.
const storeHelp = "the store tailerd writes to (required): a directory or file:///DIR, " +
	"s3://BUCKET[/PREFIX]?endpoint=HOST:PORT[&region=R&path_style=true&tls=false&ca_file=FILE] " +
	"(credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, MINIO_ROOT_USER/MINIO_ROOT_PASSWORD or ~/.aws/credentials, never the URL), " +
	"or kafka://HOST:PORT[,HOST:PORT...][/TOPICPREFIX][?tls=true&ca_file=F&cert_file=F&key_file=F&sasl=MECHANISM&user=NAME&password_file=F] " +
	"(the Kafka password from password_file or TIDELOG_KAFKA_PASSWORD); see docs/store-layout.md and docs/security.md"

// storeFlags are --store and the keys to read it with (keyFlags): every
// command that reads a store takes them.
type storeFlags struct {
	store string
	keys  keyFlags
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.store, "store", "", storeHelp)
	f.keys.register(fs)
}

// open loads the keys, then opens the store (openStore); the caller closes
// it with closeStore.
func (f *storeFlags) open(ctx context.Context, stderr io.Writer) (store.Store, readKeys, error) {
	keys, err := f.keys.load(stderr)
	if err != nil {
		return nil, readKeys{}, err
	}
	st, err := openStore(ctx, f.store)
	if err != nil {
		return nil, readKeys{}, err
	}
	return st, keys, nil
}

// openStore opens an existing store for reading: the replayer never creates
// one, so a mistyped location fails rather than reads as empty. Everything
// a restore needs comes from the store alone (no checkpoint), so this works
// on a machine that never ran tailerd. The caller closes the store with
// closeStore.
func openStore(ctx context.Context, loc string) (store.Store, error) {
	if loc == "" {
		return nil, coded(exitUsage, errors.New("--store is required"))
	}
	st, err := storeurl.Open(ctx, loc, storeurl.Options{})
	switch {
	case errors.Is(err, storeurl.ErrInvalid):
		return nil, coded(exitUsage, fmt.Errorf("--store: %w", err))
	case errors.Is(err, store.ErrNotStore) || errors.Is(err, store.ErrNotExist):
		return nil, coded(exitNotStore, fmt.Errorf("%w (is --store where tailerd writes?)", err))
	case err != nil:
		return nil, coded(exitNotStore, err)
	}
	return st, nil
}

// closeStore releases a store's connections (Kafka). Nothing was written
// through it, so a failure to close loses nothing and is not reported.
func closeStore(st store.Store) { _ = storeurl.Close(st) }
