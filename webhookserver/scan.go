package webhookserver

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
)

// maxJSONDepth is the most objects and arrays open at once that a payload
// may have, as in encoding/json (its maxNestingDepth): 10000 levels are
// accepted, 10001 refused.
const maxJSONDepth = 10000

var errMalformed = errors.New("malformed JSON")

// payloadKeys are the top-level members of a payload that Payload decodes.
var payloadKeys = [][]byte{
	[]byte(`"action"`), []byte(`"hook_id"`), []byte(`"ref"`), []byte(`"after"`),
	[]byte(`"repository"`), []byte(`"organization"`), []byte(`"pull_request"`), []byte(`"issue"`),
}

// extractObject checks in one pass that raw is exactly one JSON object (the
// grammar encoding/json accepts) and returns a smaller object holding only
// its members named by payloadKeys, in their order. Payloads can be 25 MiB of
// commits and files hookwarden never reads; decoding them all would cost the
// receiver most of its time.
func extractObject(raw []byte) ([]byte, error) {
	s := jsonScanner{data: raw}
	s.skipSpace()
	if s.peek() != '{' {
		return nil, errMalformed
	}
	s.i++
	out := make([]byte, 0, 1024)
	out = append(out, '{')
	s.skipSpace()
	if s.peek() == '}' {
		s.i++
		return s.end(append(out, '}'))
	}
	for {
		s.skipSpace()
		keyStart := s.i
		if err := s.str(); err != nil {
			return nil, err
		}
		key := raw[keyStart:s.i]
		s.skipSpace()
		if s.peek() != ':' {
			return nil, errMalformed
		}
		s.i++
		s.skipSpace()
		valueStart := s.i
		if err := s.value(1); err != nil {
			return nil, err
		}
		if wanted(key) {
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = append(out, key...)
			out = append(out, ':')
			out = append(out, raw[valueStart:s.i]...)
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return s.end(append(out, '}'))
		default:
			return nil, errMalformed
		}
	}
}

// wanted reports whether a raw (quoted) key is one of payloadKeys. Keys
// with escapes are unquoted first, as encoding/json would.
func wanted(key []byte) bool {
	if bytes.IndexByte(key, '\\') >= 0 {
		var k string
		if json.Unmarshal(key, &k) != nil {
			return false
		}
		key, _ = json.Marshal(k)
	}
	for _, k := range payloadKeys {
		// encoding/json matches keys case-insensitively too.
		if bytes.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// jsonScanner validates JSON without building anything.
type jsonScanner struct {
	data []byte
	i    int
}

func (s *jsonScanner) peek() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

// end accepts trailing whitespace only.
func (s *jsonScanner) end(out []byte) ([]byte, error) {
	s.skipSpace()
	if s.i != len(s.data) {
		return nil, errMalformed
	}
	return out, nil
}

func (s *jsonScanner) skipSpace() {
	for s.i < len(s.data) {
		// Compact JSON (GitHub's) has no whitespace: one compare exits.
		if c := s.data[s.i]; c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return
		}
		s.i++
	}
}

// value scans one value inside depth open objects and arrays (the
// payload's own object counts as one). An object or array opens one more,
// which must stay within maxJSONDepth.
func (s *jsonScanner) value(depth int) error {
	switch c := s.peek(); {
	case c == '"':
		return s.str()
	case c == '{':
		if depth >= maxJSONDepth {
			return errMalformed
		}
		return s.object(depth)
	case c == '[':
		if depth >= maxJSONDepth {
			return errMalformed
		}
		return s.array(depth)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return errMalformed
}

func (s *jsonScanner) object(depth int) error {
	s.i++ // {
	s.skipSpace()
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		s.skipSpace()
		if err := s.str(); err != nil {
			return err
		}
		s.skipSpace()
		if s.peek() != ':' {
			return errMalformed
		}
		s.i++
		s.skipSpace()
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errMalformed
		}
	}
}

func (s *jsonScanner) array(depth int) error {
	s.i++ // [
	s.skipSpace()
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		s.skipSpace()
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errMalformed
		}
	}
}

func (s *jsonScanner) str() error {
	data, i := s.data, s.i
	if i >= len(data) || data[i] != '"' {
		return errMalformed
	}
	i++
	for {
		// Skip 8 plain bytes at a time (most of a payload is strings) and
		// land on the first byte that is not plain.
		for i+8 <= len(data) {
			if special := stringSpecial(binary.LittleEndian.Uint64(data[i:])); special != 0 {
				i += bits.TrailingZeros64(special) / 8
				break
			}
			i += 8
		}
		if i >= len(data) {
			return errMalformed
		}
		switch c := data[i]; {
		case c == '"':
			s.i = i + 1
			return nil
		case c < 0x20:
			return errMalformed
		case c == '\\':
			if i+1 >= len(data) {
				return errMalformed
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) || !isHex4(data[i+2:i+6]) {
					return errMalformed
				}
				i += 6
			default:
				return errMalformed
			}
		default:
			i++
		}
	}
}

const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// stringSpecial marks the bytes of w (little-endian) that end a JSON string
// ('"'), start an escape ('\\') or are control characters, which a string may
// not hold: the "has a zero byte" and "has a byte less than n" bit tricks,
// on w and on w with '"' and '\\' xored to zero. It is 0 when there is none;
// else its lowest set bit is the high bit of the first such byte (borrows
// only mark bytes above a marked one).
func stringSpecial(w uint64) uint64 {
	quote := w ^ (lowBits * '"')
	backslash := w ^ (lowBits * '\\')
	return ((quote-lowBits)&^quote | (backslash-lowBits)&^backslash | (w-lowBits*0x20)&^w) & highBits
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func (s *jsonScanner) digits() int {
	start := s.i
	for s.i < len(s.data) && s.data[s.i] >= '0' && s.data[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

func (s *jsonScanner) number() error {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return errMalformed
	}
	if s.peek() == '.' {
		s.i++
		if s.digits() == 0 {
			return errMalformed
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if s.digits() == 0 {
			return errMalformed
		}
	}
	return nil
}

func (s *jsonScanner) literal(lit string) error {
	if len(s.data)-s.i < len(lit) || string(s.data[s.i:s.i+len(lit)]) != lit {
		return errMalformed
	}
	s.i += len(lit)
	return nil
}
