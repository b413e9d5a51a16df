package segment

import (
	"fmt"
	"strconv"

	"github.com/tidelog/tidelog/oplog"
)

// Ext is the file extension of a segment.
const Ext = ".tseg"

// nameLen is the length of every valid name: four 10-digit numbers, the
// separators ".", "-", "." and Ext.
const nameLen = 4*10 + 3 + len(Ext)

// nameForm is the shape of a name, for error messages.
const nameForm = "TTTTTTTTTT.IIIIIIIIII-TTTTTTTTTT.IIIIIIIIII" + Ext

// Name returns the name of the segment covering [start, end]:
// startT.startI-endT.endI.tseg with every number zero-padded to 10 digits,
// the width of the largest uint32. Fixed width makes byte order equal time
// order, so a sorted store listing is the stream in order; the name carries
// the range so a renamed or swapped segment is caught by NewReader.
func Name(start, end oplog.Timestamp) string {
	b := make([]byte, 0, nameLen)
	b = appendPadded(b, start.T)
	b = append(b, '.')
	b = appendPadded(b, start.I)
	b = append(b, '-')
	b = appendPadded(b, end.T)
	b = append(b, '.')
	b = appendPadded(b, end.I)
	b = append(b, Ext...)
	return string(b)
}

func appendPadded(b []byte, v uint32) []byte {
	var d [10]byte
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:]...)
}

// ParseName returns the range encoded in a name made by Name. It rejects
// every other string, including names with a directory, a different width,
// numbers beyond 32 bits, and ranges whose end is before their start, so that
// Name(ParseName(s)) == s whenever ParseName succeeds.
func ParseName(name string) (start, end oplog.Timestamp, err error) {
	bad := func(why string) error {
		return fmt.Errorf("segment name %q: %s (want %s)", name, why, nameForm)
	}
	if len(name) != nameLen {
		return start, end, bad("wrong length")
	}
	if name[10] != '.' || name[21] != '-' || name[32] != '.' || name[43:] != Ext {
		return start, end, bad("wrong separators or extension")
	}
	var v [4]uint32
	for k, off := range [4]int{0, 11, 22, 33} {
		field := name[off : off+10]
		for i := 0; i < len(field); i++ {
			if field[i] < '0' || field[i] > '9' {
				return start, end, bad("not a decimal number")
			}
		}
		n, perr := strconv.ParseUint(field, 10, 32)
		if perr != nil {
			return start, end, bad("number beyond 32 bits")
		}
		v[k] = uint32(n)
	}
	start = oplog.Timestamp{T: v[0], I: v[1]}
	end = oplog.Timestamp{T: v[2], I: v[3]}
	if end.Before(start) {
		return oplog.Timestamp{}, oplog.Timestamp{}, bad("end before start")
	}
	return start, end, nil
}
