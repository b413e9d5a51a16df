package restore

import "sort"

// Namespaces lists, sorted, every target namespace Write may create or
// write: those the replay writes and the snapshot's collections and views
// the load copies (selected, after renames). Before Write, the target holds
// none of them (or Drop replaces them), so a caller that must undo an
// interrupted Write — replayer follow, restarted during its initial restore
// — can record them first and drop exactly these later, nothing else.
func (v *Verified) Namespaces(opts Options) []string {
	set := map[string]bool{}
	for _, ns := range v.Replayed {
		set[ns] = true
	}
	if v.Snapshot != nil {
		for _, c := range v.Snapshot.Collections {
			if !wanted(c.DB(), c.Name(), opts.Apply) {
				continue
			}
			tdb, tcoll := opts.Apply.Namespaces.Rename(c.DB(), c.Name())
			set[tdb+"."+tcoll] = true
		}
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}
