package dump

import (
	"fmt"
	"io"
)

// OpenData opens one namespace's data file of a directory dump (gunzipped
// when its name ends in .gz) as a reader of its documents, so that callers
// can read several namespaces at once instead of through Dir's single
// stream. Close the returned Closer. It fails for a namespace with no data
// file (metadata only: a view, say) and for archive namespaces.
func (c Collection) OpenData() (*BSONReader, io.Closer, error) {
	if c.DataFile == "" {
		return nil, nil, fmt.Errorf("dump: %s has no data file", c.Namespace)
	}
	r, closeFn, err := openMaybeGzip(c.DataFile)
	if err != nil {
		return nil, nil, err
	}
	return NewBSONReader(r, c.DataFile), closerFunc(closeFn), nil
}
