package replay

import (
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func rawInt(i int32) bson.RawValue {
	_, v, _ := bson.MarshalValue(i)
	return bson.RawValue{Type: bson.TypeInt32, Value: v}
}

// Every id lands in exactly one $in list, in order, and no list passes the
// count or byte bound.
func TestIDChunks(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	_, bigV, _ := bson.MarshalValue(big)
	cases := map[string]bson.A{"empty": nil}
	var many, large bson.A
	for i := range int32(2*maxInIDs + 5) {
		many = append(many, rawInt(i))
	}
	for range 9 {
		large = append(large, bson.RawValue{Type: bson.TypeString, Value: bigV})
	}
	cases["many small"], cases["few large"] = many, large
	for name, ids := range cases {
		var n, lists int
		for chunk := range idChunks(ids) {
			lists++
			size := 0
			for _, id := range chunk {
				size += len(id.(bson.RawValue).Value)
			}
			if len(chunk) == 0 || len(chunk) > maxInIDs || (len(chunk) > 1 && size > maxInBytes) {
				t.Errorf("%s: list %d holds %d ids of %d bytes", name, lists, len(chunk), size)
			}
			for _, id := range chunk {
				if fmt.Sprint(id) != fmt.Sprint(ids[n]) {
					t.Fatalf("%s: id %d out of order", name, n)
				}
				n++
			}
		}
		if n != len(ids) {
			t.Errorf("%s: %d of %d ids listed", name, n, len(ids))
		}
	}
}

// Whole namespaces are spread so that no partition takes two while another
// is empty, and a batch with fewer namespaces than partitions is split by _id.
func TestWholeNamespaces(t *testing.T) {
	var ops []crudOp
	for ns, n := range map[string]int{"a.big": 500, "a.mid": 300, "a.small": 150, "a.tiny": 50} {
		for range n {
			ops = append(ops, crudOp{ns: ns})
		}
	}
	got := wholeNamespaces(ops, 2)
	load := make([]int, 2)
	count := map[string]int{"a.big": 500, "a.mid": 300, "a.small": 150, "a.tiny": 50}
	for ns, p := range got {
		load[p] += count[ns]
	}
	if len(got) != 4 || load[0] != 500 || load[1] != 500 {
		t.Errorf("assignment %v gives loads %v, want 500 and 500", got, load)
	}
	if got := wholeNamespaces(ops, 8); got != nil {
		t.Errorf("4 namespaces over 8 partitions: %v, want a split by _id", got)
	}
}
