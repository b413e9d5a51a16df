package load

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// maxOpenSpools bounds the spool files open for writing at once. mongodump
// interleaves a few namespaces at a time (its --numParallelCollections), so
// a small set of open files serves an archive of any number of namespaces.
const maxOpenSpools = 32

// spool writes an archive's documents into one file per namespace, so that
// each can be read back on its own, several at once and more than once.
type spool struct {
	dir   string
	files map[string]*spoolFile // by namespace
	open  []*spoolFile          // open for writing, least recently used first
}

type spoolFile struct {
	path  string
	docs  int64
	bytes int64
	f     *os.File
	w     *bufio.Writer
}

func newSpool(dir string) *spool { return &spool{dir: dir, files: map[string]*spoolFile{}} }

// write appends doc to ns's file.
func (s *spool) write(ns string, doc []byte) error {
	sf := s.files[ns]
	if sf == nil {
		sf = &spoolFile{path: filepath.Join(s.dir, strconv.Itoa(len(s.files))+".bson")}
		s.files[ns] = sf
	}
	if sf.f == nil {
		if err := s.reopen(sf); err != nil {
			return err
		}
	} else {
		s.touch(sf)
	}
	if _, err := sf.w.Write(doc); err != nil {
		return fmt.Errorf("spool %s: %w", ns, err)
	}
	sf.docs++
	sf.bytes += int64(len(doc))
	return nil
}

// reopen opens sf for appending, closing the least recently used file
// when too many are open.
func (s *spool) reopen(sf *spoolFile) error {
	if len(s.open) >= maxOpenSpools {
		if err := s.open[0].close(); err != nil {
			return err
		}
		s.open = s.open[1:]
	}
	f, err := os.OpenFile(sf.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	sf.f, sf.w = f, bufio.NewWriterSize(f, 64<<10)
	s.open = append(s.open, sf)
	return nil
}

// touch moves sf to the most recently used end.
func (s *spool) touch(sf *spoolFile) {
	if s.open[len(s.open)-1] == sf {
		return
	}
	for i, o := range s.open {
		if o == sf {
			s.open = append(append(s.open[:i:i], s.open[i+1:]...), sf)
			return
		}
	}
}

// finish flushes and closes every file.
func (s *spool) finish() error {
	var first error
	for _, sf := range s.open {
		if err := sf.close(); err != nil && first == nil {
			first = err
		}
	}
	s.open = nil
	return first
}

func (sf *spoolFile) close() error {
	err := sf.w.Flush()
	if cerr := sf.f.Close(); err == nil {
		err = cerr
	}
	sf.f, sf.w = nil, nil
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}
