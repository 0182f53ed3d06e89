package webhookserver

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"reflect"
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
}

// TestDecodePayloadMatchesEncodingJSON checks that the one-pass decoder
// decodes what encoding/json decodes from the same bytes, on GitHub's
// example payloads and on the shapes above.
func TestDecodePayloadMatchesEncodingJSON(t *testing.T) {
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
	fast := 0
	for _, raw := range payloads {
		if checkDecodeMatches(t, raw) {
			fast++
		}
	}
	// GitHub's payloads all take the one-pass path.
	if fast < len(payloads)-12 {
		t.Errorf("only %d of %d payloads decoded in one pass", fast, len(payloads))
	}
}

// checkDecodeMatches fails t when parsePayload's result differs from
// json.Unmarshal's; it reports whether decodePayload decoded raw itself.
func checkDecodeMatches(t *testing.T, raw []byte) (onePass bool) {
	t.Helper()
	var want Payload
	wantErr := json.Unmarshal(raw, &want)
	var typeErr *json.UnmarshalTypeError
	if errors.As(wantErr, &typeErr) {
		wantErr = nil
	}
	got, err := parsePayload(raw)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%q: parsePayload error %v, encoding/json %v", raw, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(*got, want) {
		t.Fatalf("%q:\n got %s\nwant %s", raw, dump(got), dump(&want))
	}
	_, fastErr := decodePayload(raw)
	return fastErr == nil
}

func dump(p *Payload) string {
	b, _ := json.Marshal(p)
	return string(b)
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

// BenchmarkDecodePayload measures validating and decoding push payloads of
// the benchmark sizes, next to the HMAC-SHA256 every delivery also costs.
func BenchmarkDecodePayload(b *testing.B) {
	for _, size := range benchSizes {
		payload := pushOfSize(b, size.bytes)
		b.Run(size.name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodePayload(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size.name+"-hmac", func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				sign([]byte(testSecret), payload)
			}
		})
	}
}
