package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
)

// openStore opens an existing store for reading: the replayer never creates one.
func openStore(ctx context.Context, dir string) (store.Store, error) {
	if dir == "" {
		return nil, coded(exitUsage, errors.New("--store is required"))
	}
	st, err := dirstore.Open(dir, false)
	if errors.Is(err, store.ErrNotStore) || errors.Is(err, store.ErrNotExist) {
		return nil, coded(exitNotStore, fmt.Errorf("%w (is --store the directory tailerd writes to?)", err))
	}
	if err != nil {
		return nil, coded(exitNotStore, err)
	}
	return st, nil
}
