package txn

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// ID names a transaction: its logical session and the session's txnNumber.
//
// LSID is kept opaque, as the server writes it ({id: UUID, uid: ...}, with
// extra fields on internal sessions): two entries belong to one transaction
// when their lsid bytes and txnNumber are equal. LSID is nil for a
// session-less applyOps chain (a large batched write, 7.0+), which is named by
// the ts of its first entry instead (Chain).
//
// One Buffer reads one replica set's oplog. A distributed transaction has a
// prepare and a commit with the same ID on every shard it touched, so merging
// several shards' oplogs into one Buffer would mix them up.
type ID struct {
	LSID      bson.Raw
	TxnNumber int64
	Chain     oplog.Timestamp // session-less chains only
}

// String renders the ID for messages: the session UUID when lsid is the usual
// {id: UUID, uid: ...}, the whole lsid otherwise.
func (id ID) String() string {
	if id.LSID == nil {
		if id.Chain.IsZero() {
			return "session-less applyOps chain (first entry not seen)"
		}
		return "session-less applyOps chain started at " + id.Chain.String()
	}
	return "transaction lsid " + lsidString(id.LSID) + " txnNumber " + strconv.FormatInt(id.TxnNumber, 10)
}

func lsidString(lsid bson.Raw) string {
	elems, err := lsid.Elements()
	if err == nil && len(elems) <= 2 {
		if sub, data, ok := lsid.Lookup("id").BinaryOK(); ok && sub == 4 && len(data) == 16 {
			h := hex.EncodeToString(data)
			return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
		}
	}
	return lsid.String()
}

// key is the map key of a transaction. The fixed-width parts come first so
// that no two IDs share a key whatever bytes the lsid holds.
func (id ID) key() string {
	var b []byte
	if id.LSID == nil {
		b = make([]byte, 0, 9)
		b = append(b, 'c')
		b = binary.BigEndian.AppendUint64(b, id.Chain.Uint64())
		return string(b)
	}
	b = make([]byte, 0, 9+len(id.LSID))
	b = append(b, 's')
	b = binary.BigEndian.AppendUint64(b, uint64(id.TxnNumber))
	b = append(b, id.LSID...)
	return string(b)
}
