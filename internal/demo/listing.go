package main

import (
	"encoding/json"

	"github.com/tidelog/tidelog/oplog"
)

// restorableTo reads the end of the first stream's restorable window from
// `replayer list --json` output.
func restorableTo(out []byte) (oplog.Timestamp, bool) {
	var l struct {
		Streams []struct {
			Restorable *struct {
				To string `json:"to"`
			} `json:"restorable"`
		} `json:"streams"`
	}
	if json.Unmarshal(out, &l) != nil || len(l.Streams) == 0 || l.Streams[0].Restorable == nil {
		return oplog.Timestamp{}, false
	}
	ts, err := oplog.Parse(l.Streams[0].Restorable.To)
	return ts, err == nil
}
