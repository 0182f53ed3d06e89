package delivery

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// maxJSONDepth is the deepest nesting of objects and arrays accepted: 10000,
// as encoding/json (which refuses a 10001st level).
const maxJSONDepth = 10000

var errMalformed = errors.New("malformed JSON")

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
func (s *jsonScanner) end() error {
	s.skipSpace()
	if s.i != len(s.data) {
		return errMalformed
	}
	return nil
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

// value scans one value inside depth enclosing objects and arrays.
func (s *jsonScanner) value(depth int) error {
	switch c := s.peek(); {
	case c == '"':
		return s.str()
	case c == '{':
		if depth >= maxJSONDepth {
			return errMalformed
		}
		return s.object(depth + 1)
	case c == '[':
		if depth >= maxJSONDepth {
			return errMalformed
		}
		return s.array(depth + 1)
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

// object scans an object at nesting level depth (counting itself). It and
// array are the hot path of a payload (commits, files), so their loops are
// written out: a call per member costs several percent at 256 KB.
func (s *jsonScanner) object(depth int) error {
	if s.open('}') {
		return nil
	}
	for {
		s.skipSpace()
		if err := s.str(); err != nil {
			return err
		}
		if s.skipSpace(); s.peek() != ':' {
			return errMalformed
		}
		s.i++
		s.skipSpace()
		if err := s.value(depth); err != nil {
			return err
		}
		if s.skipSpace(); s.peek() == '}' {
			s.i++
			return nil
		}
		if _, err := s.next('}'); err != nil {
			return err
		}
	}
}

// array scans an array at nesting level depth (counting itself).
func (s *jsonScanner) array(depth int) error {
	if s.open(']') {
		return nil
	}
	for {
		s.skipSpace()
		if err := s.value(depth); err != nil {
			return err
		}
		s.skipSpace()
		if end, err := s.next(']'); end || err != nil {
			return err
		}
	}
}

// open consumes the '{' or '[' at the cursor and reports whether the
// container is empty, consuming its closer too.
func (s *jsonScanner) open(closer byte) (empty bool) {
	s.i++
	s.skipSpace()
	if s.peek() == closer {
		s.i++
		return true
	}
	return false
}

// key scans a member's key and its colon, and returns the key without its
// quotes, raw; the cursor is then on the value.
func (s *jsonScanner) key() ([]byte, error) {
	s.skipSpace()
	start := s.i
	if err := s.str(); err != nil {
		return nil, err
	}
	key := s.data[start+1 : s.i-1]
	if s.skipSpace(); s.peek() != ':' {
		return nil, errMalformed
	}
	s.i++
	s.skipSpace()
	return key, nil
}

// next consumes, at the cursor (past any space), what follows a member or
// an element: a comma, or the container's closer, when it reports the end.
// It is small enough to be inlined: it runs once per member of a payload.
func (s *jsonScanner) next(closer byte) (end bool, err error) {
	c := s.peek()
	s.i++
	if c == ',' || c == closer {
		return c == closer, nil
	}
	return false, errMalformed
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
