package diff

import (
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// gen turns fuzzer bytes into a well-formed pre-image and a valid diff
// aimed at it. Raw fuzzing mostly produces broken length prefixes; this
// keeps the mutation engine's coverage guidance while spending most
// executions on documents and diffs that apply. Reading past the input
// yields zeros, so every byte string maps to some case.
type gen struct {
	b []byte
	i int
}

func (g *gen) next() byte {
	if g.i >= len(g.b) {
		return 0
	}
	g.i++
	return g.b[g.i-1]
}

func (g *gen) intn(n int) int { return int(g.next()) % n }

// names is a small alphabet so pre-images and diffs collide often:
// duplicates in the pre-image, names that look like sections, "".
var names = []string{"a", "b", "c", "u", "s", "", "x"}

func (g *gen) name() string { return names[g.intn(len(names))] }

// value generates a BSON value; depth bounds nesting.
func (g *gen) value(depth int) any {
	k := g.intn(12)
	if depth <= 0 && k >= 8 {
		k %= 8
	}
	switch k {
	case 0:
		return int32(g.intn(5))
	case 1:
		return int64(g.intn(5))
	case 2:
		return float64(g.intn(5))
	case 3:
		return "s" + strconv.Itoa(g.intn(3))
	case 4:
		return nil
	case 5:
		return g.intn(2) == 1
	case 6:
		data := make([]byte, g.intn(5))
		for i := range data {
			data[i] = 'a' + byte(g.intn(4))
		}
		return bson.Binary{Subtype: []byte{0, 7, 4}[g.intn(3)], Data: data}
	case 7:
		return bson.MinKey{}
	case 8, 9:
		return g.doc(depth - 1)
	default:
		a := bson.A{}
		for range g.intn(5) {
			a = append(a, g.value(depth-1))
		}
		return a
	}
}

func (g *gen) doc(depth int) bson.D {
	d := bson.D{}
	for range g.intn(6) {
		d = append(d, bson.E{Key: g.name(), Value: g.value(depth)})
	}
	return d
}

// docDiff generates a valid document diff, biased towards pre's fields.
// It may be empty only below the top level when nothing was chosen; the
// caller replaces an empty diff by a no-op one.
func (g *gen) docDiff(pre bson.D, depth int) bson.D {
	used := map[string]bool{}
	pick := func() (string, any, bool) {
		var name string
		var val any
		if len(pre) > 0 && g.intn(3) > 0 {
			e := pre[g.intn(len(pre))]
			name, val = e.Key, e.Value
		} else {
			name = g.name()
		}
		if used[name] {
			return "", nil, false
		}
		used[name] = true
		return name, val, true
	}
	var del, upd, ins, bin bson.D
	var subs bson.D
	for range g.intn(6) {
		name, val, ok := pick()
		if !ok {
			continue
		}
		switch g.intn(5) {
		case 0:
			del = append(del, bson.E{Key: name, Value: false})
		case 1:
			upd = append(upd, bson.E{Key: name, Value: g.value(1)})
		case 2:
			ins = append(ins, bson.E{Key: name, Value: g.value(1)})
		case 3:
			bin = append(bin, bson.E{Key: name, Value: bson.D{
				{Key: "o", Value: int32(g.intn(5))},
				{Key: "d", Value: bson.Binary{Data: []byte("xy")[:g.intn(3)]}},
			}})
		default:
			if depth <= 0 {
				del = append(del, bson.E{Key: name, Value: false})
				continue
			}
			subs = append(subs, bson.E{Key: "s" + name, Value: g.subDiff(val, depth-1)})
		}
	}
	out := bson.D{}
	for _, sec := range []struct {
		key string
		d   bson.D
	}{{"d", del}, {"u", upd}, {"i", ins}, {"b", bin}} {
		if len(sec.d) > 0 {
			out = append(out, bson.E{Key: sec.key, Value: sec.d})
		}
	}
	out = append(out, subs...)
	if len(out) == 0 {
		out = bson.D{{Key: "d", Value: bson.D{{Key: "nonexistent", Value: false}}}}
	}
	return out
}

// subDiff generates a sub-diff for value v: usually of the matching kind,
// sometimes deliberately mismatched.
func (g *gen) subDiff(v any, depth int) bson.D {
	arr, isArr := v.(bson.A)
	doc, _ := v.(bson.D)
	if g.intn(4) == 0 {
		isArr = !isArr
	}
	if !isArr {
		return g.docDiff(doc, depth)
	}
	out := bson.D{{Key: "a", Value: true}}
	limit := len(arr) + 3
	if g.intn(3) == 0 {
		l := g.intn(len(arr) + 3)
		out = append(out, bson.E{Key: "l", Value: int32(l)})
		limit = l
	}
	for idx := 0; idx < limit; idx++ {
		switch g.intn(4) {
		case 0:
			out = append(out, bson.E{Key: "u" + strconv.Itoa(idx), Value: g.value(1)})
		case 1:
			if depth > 0 {
				var elem any
				if idx < len(arr) {
					elem = arr[idx]
				}
				out = append(out, bson.E{Key: "s" + strconv.Itoa(idx), Value: g.subDiff(elem, depth-1)})
			}
		}
	}
	return out
}

// generated returns a pre-image and a valid diff from fuzz input.
func generated(pre, d []byte) (bson.Raw, bson.Raw, error) {
	g := &gen{b: append(append([]byte{}, pre...), d...)}
	preDoc := g.doc(3)
	diffDoc := g.docDiff(preDoc, 3)
	p, err := bson.Marshal(preDoc)
	if err != nil {
		return nil, nil, err
	}
	dd, err := bson.Marshal(diffDoc)
	if err != nil {
		return nil, nil, err
	}
	return p, dd, nil
}
