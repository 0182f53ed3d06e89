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

// The scanner validates JSON without building anything. Its hot path is
// written as functions of the payload and an offset that return the next
// offset, so that the offset stays in a register through a payload's
// thousands of tokens instead of being loaded from and stored to memory at
// every step; jsonScanner wraps them for the decoder.

// jsonScanner validates JSON without building anything: data from offset i.
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
	if skipSpace(s.data, s.i) != len(s.data) {
		return errMalformed
	}
	return nil
}

func (s *jsonScanner) skipSpace() { s.i = skipSpace(s.data, s.i) }

// value scans one value inside depth enclosing objects and arrays.
func (s *jsonScanner) value(depth int) (err error) {
	s.i, err = scanValue(s.data, s.i, depth)
	return err
}

func (s *jsonScanner) str() (err error) {
	s.i, err = scanString(s.data, s.i)
	return err
}

// open consumes the '{' or '[' at the cursor and reports whether the
// container is empty, consuming its closer too.
func (s *jsonScanner) open(closer byte) (empty bool) {
	i := skipSpace(s.data, s.i+1)
	if i < len(s.data) && s.data[i] == closer {
		s.i = i + 1
		return true
	}
	s.i = i
	return false
}

// key scans a member's key and its colon, and returns the key without its
// quotes, raw; the cursor is then on the value.
func (s *jsonScanner) key() ([]byte, error) {
	data := s.data
	start := skipSpace(data, s.i)
	end, err := scanString(data, start)
	if err != nil {
		return nil, err
	}
	i := skipSpace(data, end)
	if i >= len(data) || data[i] != ':' {
		return nil, errMalformed
	}
	s.i = skipSpace(data, i+1)
	return data[start+1 : end-1], nil
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

// skipSpace returns the offset of the first byte from i on that is not
// whitespace.
func skipSpace(data []byte, i int) int {
	// Compact JSON (GitHub's) has no whitespace: one compare exits.
	for i < len(data) && data[i] <= ' ' && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// scanValue scans the value at offset i (past any space), inside depth
// enclosing objects and arrays, and returns the offset after it.
func scanValue(data []byte, i, depth int) (int, error) {
	if i >= len(data) {
		return i, errMalformed
	}
	switch c := data[i]; {
	case c == '"':
		return scanString(data, i)
	case c == '{':
		if depth >= maxJSONDepth {
			return i, errMalformed
		}
		return scanContainer(data, i, depth+1, '}')
	case c == '[':
		if depth >= maxJSONDepth {
			return i, errMalformed
		}
		return scanContainer(data, i, depth+1, ']')
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(data, i)
	case c == 't':
		return scanLiteral(data, i, "true")
	case c == 'f':
		return scanLiteral(data, i, "false")
	case c == 'n':
		return scanLiteral(data, i, "null")
	}
	return i, errMalformed
}

// scanContainer scans the object or array whose '{' or '[' is at offset i,
// at nesting level depth (counting itself); closer is its '}' or ']', and
// an object's members have a key and a colon before their value. It is the
// hot path of a payload (commits, files): its loop is written out, strings
// scanned in place.
func scanContainer(data []byte, i, depth int, closer byte) (int, error) {
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == closer {
		return i + 1, nil
	}
	var err error
	for {
		if closer == '}' {
			if i, err = scanString(data, i); err != nil {
				return i, err
			}
			if i = skipSpace(data, i); i >= len(data) || data[i] != ':' {
				return i, errMalformed
			}
			i = skipSpace(data, i+1)
		}
		if i < len(data) && data[i] == '"' {
			i, err = scanString(data, i)
		} else {
			i, err = scanValue(data, i, depth)
		}
		if err != nil {
			return i, err
		}
		if i = skipSpace(data, i); i >= len(data) {
			return i, errMalformed
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case closer:
			return i + 1, nil
		default:
			return i, errMalformed
		}
	}
}

// scanString scans the string whose '"' is at offset i and returns the
// offset after its closing quote.
func scanString(data []byte, i int) (int, error) {
	if i >= len(data) || data[i] != '"' {
		return i, errMalformed
	}
	i++
	for {
		// Skip 8 plain bytes at a time (most of a payload is strings) and
		// land on the first byte that is not plain.
		for i+8 <= len(data) {
			if special := stringSpecial(binary.LittleEndian.Uint64(data[i : i+8])); special != 0 {
				i += bits.TrailingZeros64(special) / 8
				break
			}
			i += 8
		}
		if i >= len(data) {
			return i, errMalformed
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return i, errMalformed
		case c == '\\':
			if i+1 >= len(data) {
				return i, errMalformed
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) || !isHex4(data[i+2:i+6]) {
					return i, errMalformed
				}
				i += 6
			default:
				return i, errMalformed
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

// scanDigits returns the offset of the first byte from i on that is not a
// digit.
func scanDigits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}

// scanNumber scans the number at offset i and returns the offset after it.
func scanNumber(data []byte, i int) (int, error) {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return i, errMalformed
	case data[i] == '0':
		i++
	case data[i] >= '1' && data[i] <= '9':
		i = scanDigits(data, i+1)
	default:
		return i, errMalformed
	}
	if i < len(data) && data[i] == '.' {
		start := i + 1
		if i = scanDigits(data, start); i == start {
			return i, errMalformed
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		start := i
		if i = scanDigits(data, start); i == start {
			return i, errMalformed
		}
	}
	return i, nil
}

// scanLiteral scans the literal lit (true, false, null) at offset i.
func scanLiteral(data []byte, i int, lit string) (int, error) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return i, errMalformed
	}
	return i + len(lit), nil
}

// number and literal are scanNumber and scanLiteral at the cursor.
func (s *jsonScanner) number() (err error) {
	s.i, err = scanNumber(s.data, s.i)
	return err
}

func (s *jsonScanner) literal(lit string) (err error) {
	s.i, err = scanLiteral(s.data, s.i, lit)
	return err
}
