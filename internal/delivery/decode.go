package delivery

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"unicode/utf8"
)

// errGeneralPath tells decode that a payload has a shape whose decoding
// the one-pass decoder does not reproduce exactly as encoding/json would (a
// member named twice, a key with escapes, non-ASCII bytes or another case
// than the field's): it then decodes with encoding/json. GitHub never sends
// such payloads, and only signed payloads are decoded.
var errGeneralPath = errors.New("payload needs the general decoder")

// kind is how a field's JSON value is decoded, from its Go type.
type kind uint8

const (
	kindString    kind = iota // string
	kindInt                   // int64
	kindBool                  // bool
	kindPtrString             // *string
	kindPtrBool               // *bool
	kindPtrStruct             // *struct
	kindStruct                // struct
	kindSlice                 // []struct
)

// schema is what the decoder reads of one JSON object: the members named by
// the json tags of a struct type, with how to decode each. It is built once
// per type from the type itself, so the tags are the only list of fields.
type schema struct {
	names  []string
	fields []schemaField
	// lengths has bit n set when a name is n bytes long (bit 63: 63 or
	// more): a plain key of another length matches no name, in any case.
	lengths uint64
}

type schemaField struct {
	index []int
	kind  kind
	// elem is the type allocated for a pointer or slice element.
	elem reflect.Type
	// sub reads a nested object (struct, pointer or slice element).
	sub *schema
}

// schemaOf builds the schema of struct type t: exported fields with a json
// tag, embedded structs flattened as encoding/json does. It panics on a
// field type the decoder does not handle: the event table is wrong.
func schemaOf(t reflect.Type) *schema {
	s := &schema{}
	s.add(t, nil)
	if len(s.names) > 64 {
		panic(fmt.Sprintf("delivery: %s reads more than 64 members", t))
	}
	return s
}

func (s *schema) add(t reflect.Type, prefix []int) {
	for i := range t.NumField() {
		f := t.Field(i)
		index := append(append([]int(nil), prefix...), i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			s.add(f.Type, index)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		sf := schemaField{index: index}
		ft := f.Type
		switch {
		case ft.Kind() == reflect.String:
			sf.kind = kindString
		case ft.Kind() == reflect.Int64:
			sf.kind = kindInt
		case ft.Kind() == reflect.Bool:
			sf.kind = kindBool
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.String:
			sf.kind = kindPtrString
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Bool:
			sf.kind = kindPtrBool
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			sf.kind, sf.elem, sf.sub = kindPtrStruct, ft.Elem(), schemaOf(ft.Elem())
		case ft.Kind() == reflect.Struct:
			sf.kind, sf.sub = kindStruct, schemaOf(ft)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			sf.kind, sf.elem, sf.sub = kindSlice, ft.Elem(), schemaOf(ft.Elem())
		default:
			panic(fmt.Sprintf("delivery: field %s of %s has type %s, which the decoder does not read", f.Name, t, ft))
		}
		s.names = append(s.names, name)
		s.fields = append(s.fields, sf)
		s.lengths |= lengthBit(len(name))
	}
}

// decodeInto decodes the JSON object raw into dst (a pointer to a struct
// whose schema is s) as json.Unmarshal would, fields of an unexpected type
// left as they are. It checks in the same pass that raw is exactly one JSON
// object (the grammar encoding/json accepts); the members s does not name
// (commits, files: most of a payload's bytes) are only scanned. Shapes it
// leaves to encoding/json take the general path.
func decodeInto(raw []byte, s *schema, dst any) error {
	err := decodeOnePass(raw, s, reflect.ValueOf(dst).Elem())
	if !errors.Is(err, errGeneralPath) {
		return err
	}
	v := reflect.ValueOf(dst).Elem()
	v.SetZero()
	if err := json.Unmarshal(raw, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return err
		}
	}
	return nil
}

// decodeOnePass is decodeInto without the general path: it returns
// errGeneralPath for the shapes it leaves to encoding/json.
func decodeOnePass(raw []byte, s *schema, v reflect.Value) error {
	d := decoder{jsonScanner{data: raw}}
	d.skipSpace()
	if d.peek() != '{' {
		return errMalformed
	}
	if err := d.object(1, s, v); err != nil {
		return err
	}
	return d.end()
}

// decoder walks a payload once with jsonScanner, decoding the members a
// schema names.
type decoder struct {
	jsonScanner
}

// object decodes the object at the cursor, at nesting level depth
// (counting itself), into v.
func (d *decoder) object(depth int, s *schema, v reflect.Value) error {
	if d.open('}') {
		return nil
	}
	var seen uint64
	for {
		key, err := d.key()
		if err != nil {
			return err
		}
		field, err := s.match(key)
		switch {
		case err != nil:
			return err
		case field < 0:
			err = d.value(depth)
		case seen&(1<<field) != 0:
			// encoding/json merges a second member into the first.
			return errGeneralPath
		default:
			seen |= 1 << field
			f := &s.fields[field]
			err = d.field(depth, f, v.FieldByIndex(f.index))
		}
		if err != nil {
			return err
		}
		d.skipSpace()
		if end, err := d.next('}'); end || err != nil {
			return err
		}
	}
}

// field decodes the value at the cursor, inside depth enclosing containers,
// into the field v as encoding/json does: a value of another type than the
// field's leaves it (a null too, except that it sets pointers and slices to
// nil); a pointer is allocated for any value but null.
func (d *decoder) field(depth int, f *schemaField, v reflect.Value) error {
	c := d.peek()
	if c == 'n' && (f.kind == kindPtrString || f.kind == kindPtrBool || f.kind == kindPtrStruct || f.kind == kindSlice) {
		v.SetZero()
		return d.literal("null")
	}
	switch f.kind {
	case kindString:
		if c == '"' {
			return d.stringInto(v)
		}
	case kindInt:
		if c == '-' || (c >= '0' && c <= '9') {
			start := d.i
			if err := d.number(); err != nil {
				return err
			}
			if n, ok := parseInt64(d.data[start:d.i]); ok {
				v.SetInt(n)
			}
			return nil
		}
	case kindBool:
		if c == 't' || c == 'f' {
			v.SetBool(c == 't')
		}
	case kindPtrString:
		v.Set(reflect.New(v.Type().Elem()))
		if c == '"' {
			return d.stringInto(v.Elem())
		}
	case kindPtrBool:
		v.Set(reflect.New(v.Type().Elem()))
		v.Elem().SetBool(c == 't')
	case kindPtrStruct:
		v.Set(reflect.New(f.elem))
		if c == '{' {
			if depth >= maxJSONDepth {
				return errMalformed
			}
			return d.object(depth+1, f.sub, v.Elem())
		}
	case kindStruct:
		if c == '{' {
			if depth >= maxJSONDepth {
				return errMalformed
			}
			return d.object(depth+1, f.sub, v)
		}
	case kindSlice:
		if c == '[' {
			if depth >= maxJSONDepth {
				return errMalformed
			}
			return d.slice(depth+1, f, v)
		}
	}
	return d.value(depth)
}

// slice decodes the array at the cursor, at nesting level depth, into the
// slice v: it replaces v; elements that are not objects stay zero.
func (d *decoder) slice(depth int, f *schemaField, v reflect.Value) error {
	out := reflect.MakeSlice(v.Type(), 0, 4)
	if d.open(']') {
		v.Set(out)
		return nil
	}
	for {
		d.skipSpace()
		out = reflect.Append(out, reflect.Zero(f.elem))
		var err error
		if d.peek() == '{' {
			if depth >= maxJSONDepth {
				return errMalformed
			}
			err = d.object(depth+1, f.sub, out.Index(out.Len()-1))
		} else {
			err = d.value(depth)
		}
		if err != nil {
			return err
		}
		d.skipSpace()
		end, err := d.next(']')
		if err != nil {
			return err
		}
		if end {
			v.Set(out)
			return nil
		}
	}
}

// stringInto sets the string v to the JSON string at the cursor.
func (d *decoder) stringInto(v reflect.Value) error {
	start := d.i
	if err := d.str(); err != nil {
		return err
	}
	s, err := unquote(d.data[start:d.i])
	if err != nil {
		return err
	}
	v.SetString(s)
	return nil
}

func lengthBit(n int) uint64 { return 1 << min(n, 63) }

// match returns the index of key (a raw key without its quotes) in the
// schema's names, -1 for none, or errGeneralPath for a key that
// encoding/json might match otherwise: escaped, non-ASCII or in another
// case. Most keys of a payload are plain and of a length no name has: they
// cost one pass over their bytes and one test.
func (s *schema) match(key []byte) (int, error) {
	if !plainKey(key) {
		return -1, errGeneralPath
	}
	if s.lengths&lengthBit(len(key)) == 0 {
		return -1, nil
	}
	return matchField(key, s.names)
}

// plainKey reports whether key has neither an escape nor a non-ASCII
// byte, 8 bytes at a time.
func plainKey(key []byte) bool {
	for len(key) >= 8 {
		w := binary.LittleEndian.Uint64(key)
		backslash := w ^ (lowBits * '\\')
		if (w|(backslash-lowBits)&^backslash)&highBits != 0 {
			return false
		}
		key = key[8:]
	}
	for _, c := range key {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// matchField returns the index of the plain key in names, -1 for none, or
// errGeneralPath for a key that matches a name in another case.
func matchField(key []byte, names []string) (int, error) {
	for i, f := range names {
		if string(key) == f {
			return i, nil
		}
	}
	for _, f := range names {
		if asciiEqualFold(key, f) {
			return -1, errGeneralPath
		}
	}
	return -1, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// unquote returns the value of a JSON string token as encoding/json does:
// verbatim without escapes when it is valid UTF-8, else through
// encoding/json (escapes, invalid bytes replaced).
func unquote(tok []byte) (string, error) {
	inner := tok[1 : len(tok)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain || utf8.Valid(inner) && !containsByte(inner, '\\') {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", errMalformed
	}
	return s, nil
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// parseInt64 parses a JSON number token that has no fraction or exponent
// and fits an int64, as strconv.ParseInt does.
func parseInt64(tok []byte) (int64, bool) {
	neg := tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	// 19 digits hold every int64 and never overflow a uint64.
	if len(tok) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	switch {
	case neg && n <= 1<<63:
		return int64(-n), true //nolint:gosec // n <= 2^63: -n wraps to exactly the negative value
	case !neg && n <= math.MaxInt64:
		return int64(n), true //nolint:gosec // n <= MaxInt64
	}
	return 0, false
}
