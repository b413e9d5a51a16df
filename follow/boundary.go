package follow

import (
	"go.mongodb.org/mongo-driver/v2/bson"
)

// A namespace command (a collection created, dropped or renamed, a database
// dropped) applies alone in a cycle of its own: the cycle before it commits
// first, and its own commits right after it. So no journal spans one.
//
// The journal holds documents by the namespace they had when the cycle
// began. A cycle cut short after it renamed A to B would put A's journaled
// documents back into a new A, and the resumed rename (with dropTarget, as
// replay runs every rename) would then replace B, the whole renamed
// collection, with those few documents. Nor are B's journaled documents
// B's any more once A replaced it. Alone in its cycle, a command has no
// pre-images: it writes no document, and replay re-runs it harmlessly.

// namespaceCommands are the commands that create, remove or replace a
// collection (convertToCapped rebuilds it), by the name replay runs them.
var namespaceCommands = map[string]bool{
	"create": true, "drop": true, "dropDatabase": true, "renameCollection": true, "convertToCapped": true,
}

// namespaceChange tells whether entry runs a namespace command: a command
// entry, or an applyOps holding one that removes or replaces a collection
// (a transaction may create one, which invalidates no pre-image: such an
// entry stays in its cycle, whose inserts and updates need their journal).
func namespaceChange(entry bson.Raw) bool {
	kind, _ := entry.Lookup("op").StringValueOK()
	o, ok := entry.Lookup("o").DocumentOK()
	return kind == "c" && ok && commandChangesNamespace(o, true)
}

// commandChangesNamespace judges one command document; top tells a
// command entry of its own from one inside applyOps.
func commandChangesNamespace(o bson.Raw, top bool) bool {
	elems, err := o.Elements()
	if err != nil || len(elems) == 0 {
		return false
	}
	name := elems[0].Key()
	if name != "applyOps" {
		return namespaceCommands[name] && (top || name != "create")
	}
	ops, ok := elems[0].Value().ArrayOK()
	if !ok {
		return false
	}
	vals, _ := ops.Values()
	for _, v := range vals {
		doc, ok := v.DocumentOK()
		if !ok {
			continue
		}
		kind, _ := doc.Lookup("op").StringValueOK()
		inner, _ := doc.Lookup("o").DocumentOK()
		if kind == "c" && inner != nil && commandChangesNamespace(inner, false) {
			return true
		}
	}
	return false
}
