package chaos

import (
	"context"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/internal/procs"
	"github.com/tidelog/tidelog/internal/testserver"
)

// check proves, from the stores alone, what the run promises: both stores
// verify (the gaps, and nothing else, reported); the store records exactly
// the gaps the run computed; the mirror holds the same segments; every
// write outside the gaps is in the segments once and in order; and restores
// to recorded timestamps give the recorded states, while positions inside a
// gap (or after one, before its first snapshot) are refused.
func (r *run) check() {
	t := r.t
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c, err := list(r.st.env(), r.st.loc())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Gaps, r.gaps) {
		t.Errorf("the store records gaps %v; the run made %v", c.Gaps, r.gaps)
	}
	for name, loc := range map[string]string{"store": r.st.loc(), "mirror": r.st.mirror} {
		r.verify(name, loc)
	}

	primary, err := r.st.primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := r.st.ring()
	if err != nil {
		t.Fatal(err)
	}
	entries, names, keyIDs, err := storedEntries(ctx, primary, keys)
	if err != nil {
		t.Fatalf("read the store's segments: %v", err)
	}
	mirror, err := r.st.mirrorStore()
	if err != nil {
		t.Fatal(err)
	}
	mirrored, mirrorNames, mirrorKeyIDs, err := storedEntries(ctx, mirror, keys)
	if err != nil {
		t.Fatalf("read the mirror's segments: %v", err)
	}
	if !slices.Equal(names, mirrorNames) || !slices.Equal(entries, mirrored) || !slices.Equal(keyIDs, mirrorKeyIDs) {
		t.Errorf("the mirror holds %d segments (%d entries), the store %d (%d entries): fan-out lost or added something",
			len(mirrorNames), len(mirrored), len(names), len(entries))
	}
	r.checkKeys(names, keyIDs)
	writes := r.w.Writes()
	points := r.w.Points()
	tl := countEntries(writes, entries, r.gaps)
	r.fig.writes, r.fig.points, r.fig.segments = len(writes), len(points), len(names)
	r.fig.expected, r.fig.found, r.fig.lost, r.fig.inGaps, r.fig.unexpected = tl.expected, tl.found, tl.lost, tl.inGaps, tl.unexpected
	if tl.lost > 0 {
		t.Errorf("%d acknowledged writes outside the gaps are not in the segments; the first: %+v", tl.lost, tl.lostWrites[:min(5, len(tl.lostWrites))])
	}
	if tl.unexpected > 0 {
		t.Errorf("%d stored entries match no write (duplicated, out of order or inside a gap); the first: %+v", tl.unexpected, tl.unexplained[:min(5, len(tl.unexplained))])
	}
	if bad := checkPoints(points, tl, r.gaps); len(bad) > 0 {
		t.Errorf("recorded points disagree with the stored entries:\n%s", strings.Join(bad[:min(10, len(bad))], "\n"))
	}
	if len(r.gaps) > 0 && tl.inGaps == 0 {
		t.Errorf("the rollovers lost no write: the gap test proves nothing")
	}

	r.restores(points, c.Snapshots)

	log, _ := os.ReadFile(r.logPath)
	if strings.Contains(string(log), "DATA LOST") {
		t.Errorf("tailerd logged DATA LOST:\n%s", grepLines(string(log), "DATA LOST"))
	}
	if strings.Contains(string(log), "snapshot has a damaged manifest") {
		// Store puts are whole or absent, so a kill leaves a snapshot
		// without a manifest, never with a damaged one; this line was once
		// a transient read error taken for damage (docs/reliability.md).
		t.Errorf("tailerd reported a damaged snapshot manifest:\n%s", grepLines(string(log), "snapshot has a damaged manifest"))
	}
	msgs := errorMessages(string(log))
	for _, m := range slices.Sorted(maps.Keys(msgs)) {
		t.Logf("tailerd logged %4d× error %q", msgs[m], m)
	}
}

// verify runs `replayer verify` on one store: intact, with exactly the
// run's gaps reported (exit 3), or OK (exit 0) without gaps.
func (r *run) verify(name, loc string) {
	res, err := replayer(r.st.env(), "verify", "--store", loc)
	if err != nil {
		r.t.Fatal(err)
	}
	want := 0
	if len(r.gaps) > 0 {
		want = 3
	}
	ok := res.Code == want && !strings.Contains(res.Stdout, "PROBLEM")
	for _, g := range r.gaps {
		ok = ok && strings.Contains(res.Stdout, "recorded gap after "+g.After.String()) && strings.Contains(res.Stdout, "next available "+g.Next.String())
	}
	if !ok {
		r.t.Errorf("replayer verify of the %s: want exit %d, intact, reporting gaps %v: %s", name, want, r.gaps, res)
		return
	}
	r.t.Logf("replayer verify (%s): exit %d: %s", name, res.Code, strings.TrimSpace(res.Stdout))
}

// restores restores a random sample of the restorable points (the last one
// always, and one per chain) and compares each with its recorded state, and
// checks that the points no restore may reach are refused.
func (r *run) restores(points []point, snaps []span) {
	t := r.t
	by := map[verdict][]point{}
	for _, p := range points {
		v := judge(p.TS, r.gaps, snaps)
		by[v] = append(by[v], p)
	}
	ok := by[restorable]
	if len(ok) < r.p.restores {
		t.Errorf("only %d recorded points are restorable; the %s run restores %d", len(ok), r.p.name, r.p.restores)
	}
	pick := map[int]bool{len(ok) - 1: true}
	chainOf := func(p point) int {
		n := 0
		for _, g := range r.gaps {
			if !p.TS.Before(g.Next) {
				n++
			}
		}
		return n
	}
	seen := map[int]bool{}
	for i, p := range ok {
		if c := chainOf(p); !seen[c] {
			seen[c], pick[i] = true, true
		}
	}
	for len(pick) < min(r.p.restores, len(ok)) {
		pick[r.rng.IntN(len(ok))] = true
	}
	idx := make([]int, 0, len(pick))
	for i := range pick {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		r.fig.restored++
		if err := r.restoreAndCompare(ok[i]); err != nil {
			t.Error(err)
			continue
		}
		r.fig.matched++
	}
	if len(by[inGap]) == 0 && len(r.gaps) > 0 {
		t.Errorf("no point was recorded inside a gap")
	}
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	for _, v := range []verdict{inGap, noBase} {
		ps := by[v]
		r.rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		for _, p := range ps[:min(len(ps), 4)] {
			if err := r.restoreRefused(p, v, target.URI); err != nil {
				t.Error(err)
				continue
			}
			if v == inGap {
				r.fig.refusedInGap++
			} else {
				r.fig.refusedNoBase++
			}
		}
	}
	t.Logf("points: %d restorable, %d inside a gap, %d after a gap before its first snapshot", len(ok), len(by[inGap]), len(by[noBase]))
}

// grepLines is the first 10 lines of s that hold part.
func grepLines(s, part string) string {
	out := procs.Lines(s, part)
	return strings.Join(out[:min(10, len(out))], "\n")
}

// checkKeys checks the rotations: every segment is sealed with a key of the
// run, and along the stream the keys only ever move to newer ones (a
// rotation takes effect at tailerd's next start and never goes back); each
// key the run gave tailerd sealed some segment.
func (r *run) checkKeys(names []string, ids []crypt.KeyID) {
	age := map[crypt.KeyID]int{} // 0: the oldest key
	for i, k := range slices.Backward(r.st.keys) {
		age[k.ID()] = len(r.st.keys) - 1 - i
	}
	newest := 0
	r.fig.segmentsPerKey = make([]int, len(r.st.keys))
	for i, id := range ids {
		a, ok := age[id]
		if !ok {
			r.t.Errorf("segment %s is sealed with key %s, not a key of the run", names[i], id)
			continue
		}
		if a < newest {
			r.t.Errorf("segment %s is sealed with an older key (%s) than a segment before it: a rotation went back", names[i], id)
		}
		newest = max(newest, a)
		r.fig.segmentsPerKey[a]++
	}
	for a, n := range r.fig.segmentsPerKey {
		if n == 0 {
			r.t.Errorf("key %d of %d sealed no segment: a rotation took effect at once or never", a+1, len(r.st.keys))
		}
	}
}
