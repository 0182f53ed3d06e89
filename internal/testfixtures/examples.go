package testfixtures

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// Example is one example webhook payload published by GitHub in
// @octokit/webhooks-examples.
type Example struct {
	// Event is the webhook event name (the X-GitHub-Event header), e.g. "push".
	Event string
	// Action is the payload's "action" field, empty for events without one.
	Action string
	// Name identifies the example: "<event>.<action>#<n>" (or "<event>#<n>"
	// without an action), n counting from 0 within the event in the order
	// the package lists them. Stable for a given package version.
	Name string
	// Raw is the example as compact JSON: the published document with
	// insignificant whitespace removed by json.Compact, so member order,
	// number spelling and string escapes are exactly as published.
	Raw []byte
}

type exampleGroup struct {
	Name     string            `json:"name"`
	Examples []json.RawMessage `json:"examples"`
}

var (
	examplesOnce sync.Once
	examplesAll  map[string][]Example
	examplesErr  error
)

// Examples returns GitHub's published example payloads for event, in the
// package's order. It fails when the event has no examples, so that a typo in
// a test does not silently test nothing.
func Examples(event string) ([]Example, error) {
	examplesOnce.Do(func() { examplesAll, examplesErr = loadExamples() })
	if examplesErr != nil {
		return nil, examplesErr
	}
	list, ok := examplesAll[event]
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("no webhook examples for event %q", event)
	}
	out := make([]Example, len(list))
	for i, ex := range list {
		out[i] = ex
		out[i].Raw = bytes.Clone(ex.Raw)
	}
	return out, nil
}

// ExampleFor returns the first published example of event with the given
// action ("" for events without actions).
func ExampleFor(event, action string) (Example, error) {
	list, err := Examples(event)
	if err != nil {
		return Example{}, err
	}
	for _, ex := range list {
		if ex.Action == action {
			return ex, nil
		}
	}
	return Example{}, fmt.Errorf("no webhook example for event %q with action %q", event, action)
}

func loadExamples() (map[string][]Example, error) {
	path, err := ExamplesPath()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read webhook examples: %w", err)
	}
	var groups []exampleGroup
	if err := json.Unmarshal(data, &groups); err != nil {
		return nil, fmt.Errorf("decode webhook examples %s: %w", path, err)
	}
	all := make(map[string][]Example, len(groups))
	for _, g := range groups {
		for i, raw := range g.Examples {
			ex, err := newExample(g.Name, i, raw)
			if err != nil {
				return nil, err
			}
			all[g.Name] = append(all[g.Name], ex)
		}
	}
	return all, nil
}

func newExample(event string, index int, raw json.RawMessage) (Example, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return Example{}, fmt.Errorf("compact %s example %d: %w", event, index, err)
	}
	var head struct {
		Action string `json:"action"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return Example{}, fmt.Errorf("decode %s example %d: %w", event, index, err)
	}
	name := fmt.Sprintf("%s#%d", event, index)
	if head.Action != "" {
		name = fmt.Sprintf("%s.%s#%d", event, head.Action, index)
	}
	return Example{Event: event, Action: head.Action, Name: name, Raw: compact.Bytes()}, nil
}

// ExampleDoc returns the first published example of event with the given
// action as a JSON document, for a test to change before marshalling it.
func ExampleDoc(event, action string) (map[string]any, error) {
	ex, err := ExampleFor(event, action)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(ex.Raw, &doc); err != nil {
		return nil, fmt.Errorf("webhook example %s: %w", ex.Name, err)
	}
	return doc, nil
}

// PushOfSize returns GitHub's push example grown, by repeating one commit,
// to at least size bytes, as a large push looks: the payload of the
// receiver's throughput benchmarks (docs/performance.md).
func PushOfSize(size int) ([]byte, error) {
	doc, err := ExampleDoc("push", "")
	if err != nil {
		return nil, err
	}
	commit := map[string]any{"id": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "message": "Update README.md with the rollout notes of the checkout flow",
		"url": "https://github.com/Codertocat/Hello-World/commit/6113728f27ae82c7b1a177c8d03f9e96e0adf246", "added": []string{}, "removed": []string{},
		"modified": []string{"README.md", "docs/checkout.md"}, "author": map[string]string{"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com"}}
	one, err := json.Marshal(commit)
	if err != nil {
		return nil, err
	}
	var commits []any
	for {
		raw, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		if len(raw) >= size {
			return raw, nil
		}
		for range max(1, (size-len(raw))/(len(one)+1)) {
			commits = append(commits, commit)
		}
		doc["commits"] = commits
	}
}
