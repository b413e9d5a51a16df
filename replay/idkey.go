package replay

import (
	"encoding/binary"
	"math"
	"math/big"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// appendIDKey appends to dst a key for an _id such that two _ids the
// server takes for one document key have one key. The server compares
// numbers by value across int32, int64, double and decimal128, inside
// documents and arrays too, and symbols as strings; every other type only
// equals itself, byte for byte.
//
// Batches are split into partitions by this key and applied concurrently,
// and a partition folds each document's entries into one state by it. Keyed
// by type and bytes instead, an insert of {_id: 1.0} after a delete of
// {_id: 1} (int) could land in another partition and be deleted by it, or
// be written before the delete in the same one.
func appendIDKey(dst []byte, v bson.RawValue) []byte {
	switch v.Type {
	case bson.TypeInt32, bson.TypeInt64, bson.TypeDouble, bson.TypeDecimal128:
		return appendNumberKey(dst, v)
	case bson.TypeSymbol:
		return append(append(dst, byte(bson.TypeString)), v.Value...)
	case bson.TypeEmbeddedDocument, bson.TypeArray:
		dst = append(dst, byte(v.Type))
		elems, err := bson.Raw(v.Value).Elements()
		if err != nil {
			return append(dst, v.Value...) // unreadable: the bytes still name it
		}
		for _, e := range elems {
			dst = append(append(dst, e.Key()...), 0)
			dst = appendIDKey(dst, e.Value())
		}
		return append(dst, 0xff) // end: {a:{b:1}} and {a:{}, b:1} differ
	default:
		return append(append(dst, byte(v.Type)), v.Value...)
	}
}

// appendNumberKey keys a number by its exact value: as a double when one
// equals it, else by type and exact value, so that numbers are merged only
// when the server finds them equal.
func appendNumberKey(dst []byte, v bson.RawValue) []byte {
	var f float64
	switch v.Type {
	case bson.TypeInt32:
		f = float64(v.Int32())
	case bson.TypeInt64:
		n := v.Int64()
		f = float64(n)
		if f >= 0x1p63 || int64(f) != n {
			// No double equals it (float64(MaxInt64) rounds up to 2^63),
			// but a decimal may: keyed as an exact decimal.
			return appendExactKey(dst, strconv.FormatInt(n, 10))
		}
	case bson.TypeDouble:
		f = v.Double()
	case bson.TypeDecimal128:
		d, ok := v.Decimal128OK()
		if !ok {
			return append(append(dst, byte(v.Type)), v.Value...)
		}
		exact, isDouble := decimalValue(d)
		if !isDouble {
			// Only decimals equal it (0.1, 1E+400): keyed by the value,
			// so that 1.10 and 1.1 agree.
			return appendExactKey(dst, exact)
		}
		f, _ = strconv.ParseFloat(exact, 64)
	}
	switch {
	case math.IsNaN(f):
		f = math.NaN() // one NaN: the server takes every NaN for one key
	case f == 0:
		f = 0 // -0 equals 0
	}
	return binary.LittleEndian.AppendUint64(append(dst, byte(bson.TypeDouble)), math.Float64bits(f))
}

// appendExactKey keys a number no double equals by its exact value's text
// (big.Rat's RatString: an integer is its digits), length-prefixed so that
// what follows inside a document cannot run into it.
func appendExactKey(dst []byte, exact string) []byte {
	dst = binary.AppendUvarint(append(dst, byte(bson.TypeDecimal128)), uint64(len(exact)))
	return append(dst, exact...)
}

// decimalValue returns d's exact value as text and whether a double has
// exactly that value (then the text parses to it).
func decimalValue(d bson.Decimal128) (string, bool) {
	switch {
	case d.IsNaN():
		return "NaN", true
	case d.IsInf() > 0:
		return "+Inf", true
	case d.IsInf() < 0:
		return "-Inf", true
	}
	coef, exp, err := d.BigInt()
	if err != nil {
		return d.String(), false
	}
	r := new(big.Rat).SetInt(coef)
	if exp != 0 {
		scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil)
		if exp > 0 {
			r.Mul(r, new(big.Rat).SetInt(scale))
		} else {
			r.Quo(r, new(big.Rat).SetInt(scale))
		}
	}
	f, exactly := r.Float64()
	if exactly {
		return strconv.FormatFloat(f, 'g', -1, 64), true
	}
	return r.RatString(), false
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// idKey is appendIDKey as a map key.
func idKey(v bson.RawValue) string { return string(appendIDKey(nil, v)) }
