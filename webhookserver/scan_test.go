package webhookserver

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

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
	}
	panic(where)
}

// TestJSONDepthAgreesWithEncodingJSON: the receiver refuses exactly the
// nesting encoding/json refuses: 10,000 levels are a payload, 10,001 are
// malformed, wherever they are.
func TestJSONDepthAgreesWithEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		depth int
		ok    bool
	}{{maxJSONDepth - 1, true}, {maxJSONDepth, true}, {maxJSONDepth + 1, false}} {
		for _, kind := range []string{"arrays", "empty arrays", "objects", "empty objects"} {
			for _, where := range []string{"skipped member", "repository", "label"} {
				payload := nested(tc.depth, kind, where)
				if json.Valid(payload) != tc.ok {
					t.Fatalf("%d levels of %s in %s: encoding/json accepts it: %v, this test expects %v",
						tc.depth, kind, where, json.Valid(payload), tc.ok)
				}
				if _, err := decodePayload(payload); (err == nil) != tc.ok || errors.Is(err, errGeneralPath) {
					t.Errorf("%d levels of %s in %s: decodePayload error %v, want accepted: %v", tc.depth, kind, where, err, tc.ok)
				}
				if _, err := extractObject(payload); (err == nil) != tc.ok {
					t.Errorf("%d levels of %s in %s: extractObject error %v, want accepted: %v", tc.depth, kind, where, err, tc.ok)
				}
				if _, err := parsePayload(payload); (err == nil) != tc.ok {
					t.Errorf("%d levels of %s in %s: parsePayload error %v, want accepted: %v", tc.depth, kind, where, err, tc.ok)
				}
			}
		}
	}
}
