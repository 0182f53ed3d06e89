package delivery

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"reflect"
	"strings"
	"testing"

	"github.com/hookwarden/hookwarden/internal/testfixtures"
)

// decodeCases are payload shapes where a hand-written decoder most easily
// differs from encoding/json: types other than the field's, nulls, pointers,
// labels, big numbers, escapes, case and repeated members.
var decodeCases = []string{
	`{}`,
	` {"action":"opened","hook_id":7,"ref":"refs/heads/main","after":"abc"} `,
	`{"action":null,"hook_id":null,"repository":null,"organization":null,"pull_request":null,"issue":null}`,
	`{"action":1,"hook_id":"7","ref":true,"after":[],"repository":"x","organization":[1],"pull_request":5,"issue":false}`,
	`{"hook_id":1.5}`, `{"hook_id":1e3}`, `{"hook_id":-0}`, `{"hook_id":-9223372036854775808}`,
	`{"hook_id":9223372036854775807}`, `{"hook_id":9223372036854775808}`, `{"hook_id":-9223372036854775809}`,
	`{"hook_id":18446744073709551616}`, `{"hook_id":1234567890123456789012}`,
	`{"repository":{"full_name":"a/b","name":"b","owner":{"full_name":"x"}}}`,
	`{"repository":{}, "organization":{"login":"acme","id":1}}`,
	`{"pull_request":{"number":3,"title":"T","html_url":"u","state":"closed","merged":true,"body":"experiment_key: k","merged_at":null}}`,
	`{"pull_request":{"merged":null,"body":null,"merged_at":"2020-01-01T00:00:00Z"}}`,
	`{"pull_request":{"merged":"yes","body":5,"merged_at":{},"number":"3","title":null}}`,
	`{"pull_request":{"merged":false,"body":[1,2],"merged_at":true}}`,
	`{"issue":{"number":101,"labels":[{"name":"a"},{"name":"b","color":"f00"}]}}`,
	`{"issue":{"labels":[]}}`, `{"issue":{"labels":null}}`, `{"issue":{"labels":{}}}`, `{"issue":{"labels":"x"}}`,
	`{"issue":{"labels":[null,1,"x",[],{},{"name":null},{"name":2}]}}`,
	`{"action":"a\u00e9\n\"q\"","ref":"caf\u00e9 é 日本"}`,
	"{\"action\":\"bad \xff utf8\",\"ref\":\"\xed\xa0\x80\"}",
	`{"Action":"upper"}`, `{"ACTION":"upper","action":"lower"}`, `{"action":"lower","Action":"upper"}`,
	`{"acti\u006fn":"escaped key"}`, `{"repository":{"Full_Name":"x/y"}}`,
	`{"action":"first","action":"second"}`,
	`{"repository":{"full_name":"a/b"},"repository":{"id":1}}`,
	`{"issue":{"labels":[{"name":"a"},{"name":"b"}]},"issue":{"labels":[{"color":"x"}]}}`,
	`{"pull_request":{"merged":true},"pull_request":{"title":"t"}}`,
	"{\"\u212aey\":1,\"hoo\u212a_id\":2}",
	`{"commits":[{"id":"x","message":"m","added":[],"modified":["a"]}],"head_commit":null,"ref":"r"}`,
	`[]`, `"x"`, `{"a":1}x`, `{"a":}`, `{"a":1,}`, `{"a":[1,]}`, `{"a":01}`, `{"a":"\x01"}`, `{"a":"\q"}`, ``, `{`,
	// Skipped members, scanned without decoding: an object's members need
	// a string key and a colon, an array's elements neither, and each
	// closes with its own bracket.
	`{"a":{"b":[1,{"c":[]}],"d":{}}}`, `{"a":[1:2]}`, `{"a":["x":1]}`, `{"a":{"b" 1}}`, `{"a":{1:2}}`,
	`{"a":{"b"}}`, `{"a":{"b":1]}`, `{"a":[1}}`, `{"a":[[]]]}`, `{"a":{"b":{}}}}`, `{"a":[,1]}`, `{"a":{,"b":1}}`,
}

// fieldsTypes are the types the decoder fills: every entry of the event
// table, and the envelope of events without one.
func fieldsTypes() map[string]func() any {
	types := map[string]func() any{"(envelope)": func() any { return new(Envelope) }}
	for name, e := range handled {
		types[name] = func() any {
			p, _, _ := e.decode([]byte(`{}`))
			return reflect.New(reflect.TypeOf(p).Elem()).Interface()
		}
	}
	return types
}

// TestDecodeMatchesEncodingJSON checks that the one-pass decoder decodes,
// for every entry of the event table, what encoding/json decodes from the
// same bytes, and refuses what it refuses, on GitHub's example payloads and
// on the shapes above.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	payloads := make([][]byte, 0, len(decodeCases))
	for _, c := range decodeCases {
		payloads = append(payloads, []byte(c))
	}
	for _, event := range []string{"ping", "push", "pull_request", "issues", "release", "workflow_run"} {
		examples, err := testfixtures.Examples(event)
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range examples {
			payloads = append(payloads, ex.Raw)
		}
	}
	valid := 0
	for _, raw := range payloads {
		if json.Valid(raw) && strings.HasPrefix(strings.TrimLeft(string(raw), " \t\r\n"), "{") {
			valid++
		}
	}
	for name, newFields := range fieldsTypes() {
		fast := 0
		for _, raw := range payloads {
			if checkDecodeMatches(t, name, newFields, raw) {
				fast++
			}
		}
		// GitHub's payloads all take the one-pass path; of the shapes
		// above, only the escaped, case-folded and repeated keys (fewer
		// than 10) are left to encoding/json.
		if fast < valid-10 {
			t.Errorf("%s: only %d of %d valid payloads decoded in one pass", name, fast, valid)
		}
	}
}

// checkDecodeMatches fails t when decodeInto's result differs from
// json.Unmarshal's; it reports whether the one-pass decoder decoded raw
// itself.
func checkDecodeMatches(t *testing.T, name string, newFields func() any, raw []byte) (onePass bool) {
	t.Helper()
	want := newFields()
	wantErr := json.Unmarshal(raw, want)
	var typeErr *json.UnmarshalTypeError
	if errors.As(wantErr, &typeErr) {
		wantErr = nil
	}
	// A payload is a JSON object: other valid JSON is refused.
	if trimmed := strings.TrimLeft(string(raw), " \t\r\n"); wantErr == nil && !strings.HasPrefix(trimmed, "{") {
		wantErr = errMalformed
	}
	got := newFields()
	s := schemaOf(reflect.TypeOf(got).Elem())
	err := decodeInto(raw, s, got)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%s %q: decode error %v, encoding/json %v", name, raw, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("%s %q:\n got %s\nwant %s", name, raw, g, w)
	}
	fastErr := decodeOnePass(raw, s, reflect.New(reflect.TypeOf(got).Elem()).Elem())
	return fastErr == nil
}

// nested returns a payload object in which depth objects or arrays are open
// at once at the deepest point (the payload's own object counts), the
// deepest one holding a value or empty, in a member the decoder skips, in
// one it decodes, or in an issue's label.
func nested(depth int, kind, where string) []byte {
	levels := func(n int) string {
		switch kind {
		case "arrays":
			return strings.Repeat("[", n) + "1" + strings.Repeat("]", n)
		case "empty arrays":
			return strings.Repeat("[", n) + strings.Repeat("]", n)
		case "objects":
			return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
		}
		return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1)
	}
	switch where {
	case "skipped member":
		return []byte(`{"ref":"refs/heads/main","deep":` + levels(depth-1) + `}`)
	case "repository":
		return []byte(`{"repository":{"full_name":"acme/api","x":` + levels(depth-2) + `}}`)
	case "label":
		return []byte(`{"issue":{"number":1,"labels":[{"name":"experiment","x":` + levels(depth-4) + `}]}}`)
	case "pull request body":
		return []byte(`{"pull_request":{"number":1,"body":` + levels(depth-2) + `}}`)
	}
	panic(where)
}

// TestNestingDepthAgreesWithEncodingJSON: the decoder refuses exactly the
// nesting encoding/json refuses: 10,000 levels are a payload, 10,001 are
// malformed, wherever they are, for every entry of the event table, and in
// one pass (never by falling back to encoding/json).
func TestNestingDepthAgreesWithEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		depth int
		ok    bool
	}{{maxJSONDepth - 1, true}, {maxJSONDepth, true}, {maxJSONDepth + 1, false}} {
		for _, kind := range []string{"arrays", "empty arrays", "objects", "empty objects"} {
			for _, where := range []string{"skipped member", "repository", "label", "pull request body"} {
				payload := nested(tc.depth, kind, where)
				if json.Valid(payload) != tc.ok {
					t.Fatalf("%d levels of %s in %s: encoding/json accepts it: %v, this test expects %v",
						tc.depth, kind, where, json.Valid(payload), tc.ok)
				}
				for event, newFields := range fieldsTypes() {
					fields := newFields()
					s := schemaOf(reflect.TypeOf(fields).Elem())
					if err := decodeOnePass(payload, s, reflect.ValueOf(fields).Elem()); (err == nil) != tc.ok || errors.Is(err, errGeneralPath) {
						t.Errorf("%d levels of %s in %s, decoded as %s: error %v, want accepted: %v", tc.depth, kind, where, event, err, tc.ok)
					}
				}
			}
		}
	}
}

// TestSchemaRefusesUnknownFieldTypes: a field type the decoder cannot read
// is a programming error found when the table is built, not a silent gap.
func TestSchemaRefusesUnknownFieldTypes(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "float64") {
			t.Errorf("schemaOf accepted a float64 field: %v", r)
		}
	}()
	type bad struct {
		Score float64 `json:"score"`
	}
	schemaOf(reflect.TypeFor[bad]())
}

// TestStringSpecial checks the 8-bytes-at-a-time string scan against the
// byte-by-byte rule: for every byte value at every position among plain
// ASCII and non-ASCII neighbours, and with a second special byte after it,
// the first special byte is the one found.
func TestStringSpecial(t *testing.T) {
	for _, filler := range []byte{'a', ' ', 0x7f, 0x80, 0xff, '!', '#', '[', ']', 0x21, 0x1f + 1} {
		for pos := range 8 {
			for b := range 256 {
				for _, later := range []int{-1, 0, '"', '\\', 0x1f} {
					var w [8]byte
					for i := range w {
						w[i] = filler
					}
					w[pos] = byte(b)
					want := -1
					if b == '"' || b == '\\' || b < 0x20 {
						want = pos
					}
					if later >= 0 && pos+1 < 8 {
						w[pos+1] = byte(later)
						if want < 0 {
							want = pos + 1
						}
					}
					got := -1
					if m := stringSpecial(binary.LittleEndian.Uint64(w[:])); m != 0 {
						got = bits.TrailingZeros64(m) / 8
					}
					if got != want {
						t.Fatalf("%q: first special byte at %d, want %d", w, got, want)
					}
				}
			}
		}
	}
}

// BenchmarkDecode measures validating and decoding GitHub's push example
// padded with commits, next to the HMAC-SHA256 every delivery also costs.
func BenchmarkDecode(b *testing.B) {
	for _, size := range []int{7 << 10, 256 << 10} {
		payload, err := testfixtures.PushOfSize(size)
		if err != nil {
			b.Fatal(err)
		}
		d := &Delivery{Event: "push"}
		b.Run(byteSize(size), func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if err := decodeFor(d, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(byteSize(size)+"-hmac", func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				appendMAC(nil, []byte("bench-webhook-secret-0123456789"), payload)
			}
		})
	}
}

func byteSize(n int) string { return fmt.Sprintf("%dKiB", n>>10) }
