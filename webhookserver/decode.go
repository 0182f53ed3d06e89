package webhookserver

import (
	"encoding/json"
	"errors"
	"math"
	"unicode/utf8"
)

// errGeneralPath tells parsePayload that a payload has a shape whose
// decoding decodePayload does not reproduce exactly as encoding/json would (a
// member named twice, a key with escapes, non-ASCII bytes or another case
// than the field's): it then takes the general path. GitHub never sends such
// payloads.
var errGeneralPath = errors.New("payload needs the general decoder")

// Field names of the objects decodePayload decodes, indexed by the field
// constants below.
var (
	payloadFields      = []string{"action", "hook_id", "ref", "after", "repository", "organization", "pull_request", "issue"}
	repositoryFields   = []string{"full_name"}
	organizationFields = []string{"login"}
	pullRequestFields  = []string{"number", "title", "html_url", "state", "merged", "body", "merged_at"}
	issueFields        = []string{"number", "title", "html_url", "state", "labels"}
	labelFields        = []string{"name"}
)

// decodePayload checks in one pass that raw is exactly one JSON object (the
// grammar encoding/json accepts) and decodes the members Payload holds as
// json.Unmarshal would, fields of an unexpected type left as they are. The
// rest of the payload (commits, files: most of its bytes) is only scanned.
// It returns errGeneralPath for the rare shapes it leaves to encoding/json.
func decodePayload(raw []byte) (*Payload, error) {
	d := payloadDecoder{jsonScanner{data: raw}}
	p := &Payload{}
	d.skipSpace()
	if d.peek() != '{' {
		return nil, errMalformed
	}
	err := d.members(1, payloadFields, func(field int) error {
		switch field {
		case 0:
			return d.stringInto(&p.Action, 1)
		case 1:
			return d.intInto(&p.HookID, 1)
		case 2:
			return d.stringInto(&p.Ref, 1)
		case 3:
			return d.stringInto(&p.After, 1)
		case 4:
			return structInto(&d, &p.Repository, 1, repositoryFields, func(r *repository, _ int) error {
				return d.stringInto(&r.FullName, 2)
			})
		case 5:
			return structInto(&d, &p.Organization, 1, organizationFields, func(o *organization, _ int) error {
				return d.stringInto(&o.Login, 2)
			})
		case 6:
			return structInto(&d, &p.PullRequest, 1, pullRequestFields, d.pullRequestField)
		default:
			return structInto(&d, &p.Issue, 1, issueFields, d.issueField)
		}
	})
	if err != nil {
		return nil, err
	}
	if _, err := d.end(nil); err != nil {
		return nil, err
	}
	return p, nil
}

type payloadDecoder struct {
	jsonScanner
}

func (d *payloadDecoder) pullRequestField(pr *pullRequest, field int) error {
	const depth = 2
	switch field {
	case 0:
		return d.intInto(&pr.Number, depth)
	case 1:
		return d.stringInto(&pr.Title, depth)
	case 2:
		return d.stringInto(&pr.HTMLURL, depth)
	case 3:
		return d.stringInto(&pr.State, depth)
	case 4:
		return d.boolPtrInto(&pr.Merged, depth)
	case 5:
		return d.stringPtrInto(&pr.Body, depth)
	default:
		return d.stringPtrInto(&pr.MergedAt, depth)
	}
}

func (d *payloadDecoder) issueField(is *issue, field int) error {
	const depth = 2
	switch field {
	case 0:
		return d.intInto(&is.Number, depth)
	case 1:
		return d.stringInto(&is.Title, depth)
	case 2:
		return d.stringInto(&is.HTMLURL, depth)
	case 3:
		return d.stringInto(&is.State, depth)
	default:
		return d.labelsInto(&is.Labels, depth)
	}
}

// members scans the object at the cursor, whose member values are at depth,
// and calls member with the index in fields of each member it names; member
// consumes the value. Other members are only scanned.
func (d *payloadDecoder) members(depth int, fields []string, member func(field int) error) error {
	d.i++ // {
	d.skipSpace()
	if d.peek() == '}' {
		d.i++
		return nil
	}
	var seen uint64
	for {
		d.skipSpace()
		start := d.i
		if err := d.str(); err != nil {
			return err
		}
		field, err := matchField(d.data[start+1:d.i-1], fields)
		if err != nil {
			return err
		}
		d.skipSpace()
		if d.peek() != ':' {
			return errMalformed
		}
		d.i++
		d.skipSpace()
		if field < 0 {
			err = d.value(depth)
		} else if seen&(1<<field) != 0 {
			// encoding/json merges a second member into the first.
			return errGeneralPath
		} else {
			seen |= 1 << field
			err = member(field)
		}
		if err != nil {
			return err
		}
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return errMalformed
		}
	}
}

// matchField returns the index of key (a raw key without its quotes) in
// fields, -1 for none, or errGeneralPath for a key that encoding/json
// might match otherwise: escaped, non-ASCII or in another case.
func matchField(key []byte, fields []string) (int, error) {
	for _, c := range key {
		if c == '\\' || c >= utf8.RuneSelf {
			return -1, errGeneralPath
		}
	}
	for i, f := range fields {
		if string(key) == f {
			return i, nil
		}
	}
	for _, f := range fields {
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

// structInto decodes an object into *dst as encoding/json does into a
// pointer to a struct: null sets it to nil; any other value allocates it,
// and only an object fills it.
func structInto[T any](d *payloadDecoder, dst **T, depth int, fields []string, field func(*T, int) error) error {
	switch d.peek() {
	case 'n':
		*dst = nil
		return d.literal("null")
	case '{':
		v := new(T)
		*dst = v
		return d.members(depth+1, fields, func(f int) error { return field(v, f) })
	}
	*dst = new(T)
	return d.value(depth)
}

// stringInto sets *dst to a JSON string; null and other types leave it.
func (d *payloadDecoder) stringInto(dst *string, depth int) error {
	if d.peek() != '"' {
		return d.value(depth)
	}
	start := d.i
	if err := d.str(); err != nil {
		return err
	}
	s, err := unquote(d.data[start:d.i])
	if err != nil {
		return err
	}
	*dst = s
	return nil
}

// stringPtrInto decodes into a *string: a string sets it, null sets nil,
// another type allocates an empty one.
func (d *payloadDecoder) stringPtrInto(dst **string, depth int) error {
	switch d.peek() {
	case 'n':
		*dst = nil
		return d.literal("null")
	case '"':
		s := new(string)
		*dst = s
		return d.stringInto(s, depth)
	}
	*dst = new(string)
	return d.value(depth)
}

// boolPtrInto decodes into a *bool as stringPtrInto does into a *string.
func (d *payloadDecoder) boolPtrInto(dst **bool, depth int) error {
	b := new(bool)
	switch d.peek() {
	case 'n':
		*dst = nil
		return d.literal("null")
	case 't':
		*b = true
		*dst = b
		return d.literal("true")
	}
	*dst = b
	return d.value(depth)
}

// intInto sets *dst to a JSON number that is an int64; other numbers (with
// a fraction, an exponent, out of range), null and other types leave it.
func (d *payloadDecoder) intInto(dst *int64, depth int) error {
	if c := d.peek(); c != '-' && (c < '0' || c > '9') {
		return d.value(depth)
	}
	start := d.i
	if err := d.number(); err != nil {
		return err
	}
	if n, ok := parseInt64(d.data[start:d.i]); ok {
		*dst = n
	}
	return nil
}

// labelsInto decodes an array of label objects as encoding/json does into a
// slice: null sets nil, an array replaces it (elements that are not objects
// stay empty labels), other types leave it.
func (d *payloadDecoder) labelsInto(dst *[]label, depth int) error {
	switch d.peek() {
	case 'n':
		*dst = nil
		return d.literal("null")
	case '[':
	default:
		return d.value(depth)
	}
	labels := make([]label, 0, 4)
	d.i++ // [
	d.skipSpace()
	if d.peek() == ']' {
		d.i++
		*dst = labels
		return nil
	}
	for {
		d.skipSpace()
		var l label
		var err error
		if d.peek() == '{' {
			err = d.members(depth+2, labelFields, func(int) error { return d.stringInto(&l.Name, depth+2) })
		} else {
			err = d.value(depth + 1)
		}
		if err != nil {
			return err
		}
		labels = append(labels, l)
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			*dst = labels
			return nil
		default:
			return errMalformed
		}
	}
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
