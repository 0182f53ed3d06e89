package testfixtures

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
	"unicode/utf8"
)

// octokitScript reads a batch from stdin and signs or verifies it with
// @octokit/webhooks-methods, resolved from the npm cache (node runs there).
//
//go:embed octokit.mjs
var octokitScript string

// octokitTimeout bounds one node run; a batch of thousands of payloads takes
// well under a second.
const octokitTimeout = 60 * time.Second

type octokitRequest struct {
	Op         string   `json:"op"`
	Secret     string   `json:"secret"`
	Payloads   []string `json:"payloads"`
	Signatures []string `json:"signatures,omitempty"`
}

type octokitResponse struct {
	Signatures []string `json:"signatures"`
	Valid      []bool   `json:"valid"`
	Error      string   `json:"error"`
}

// OctokitSign signs each payload with @octokit/webhooks-methods sign() and
// returns the "sha256=<hex>" signatures, in order. One node process handles
// the whole batch.
//
// webhooks-methods takes the payload as a JavaScript string and HMACs its
// UTF-8 encoding. Webhook payloads are UTF-8 JSON, so the payload bytes are
// sent base64-encoded, decoded to a string in node and checked to encode back
// to the very same bytes; payloads that are not valid UTF-8 are rejected here
// rather than signed over different bytes.
func OctokitSign(secret string, payloads [][]byte) ([]string, error) {
	resp, err := runOctokit(octokitRequest{Op: "sign", Secret: secret}, payloads)
	if err != nil {
		return nil, err
	}
	if len(resp.Signatures) != len(payloads) {
		return nil, fmt.Errorf("octokit sign: got %d signatures for %d payloads", len(resp.Signatures), len(payloads))
	}
	return resp.Signatures, nil
}

// OctokitVerify checks each signature against its payload with
// @octokit/webhooks-methods verify() and reports, in order, whether it is
// valid. The same UTF-8 rule as OctokitSign applies to payloads.
func OctokitVerify(secret string, payloads [][]byte, signatures []string) ([]bool, error) {
	if len(signatures) != len(payloads) {
		return nil, fmt.Errorf("octokit verify: %d signatures for %d payloads", len(signatures), len(payloads))
	}
	resp, err := runOctokit(octokitRequest{Op: "verify", Secret: secret, Signatures: signatures}, payloads)
	if err != nil {
		return nil, err
	}
	if len(resp.Valid) != len(payloads) {
		return nil, fmt.Errorf("octokit verify: got %d results for %d payloads", len(resp.Valid), len(payloads))
	}
	return resp.Valid, nil
}

func runOctokit(req octokitRequest, payloads [][]byte) (*octokitResponse, error) {
	if req.Secret == "" {
		return nil, errors.New("octokit " + req.Op + ": empty secret")
	}
	req.Payloads = make([]string, len(payloads))
	for i, p := range payloads {
		if len(p) == 0 {
			return nil, fmt.Errorf("octokit %s: payload %d is empty", req.Op, i)
		}
		if !utf8.Valid(p) {
			return nil, fmt.Errorf("octokit %s: payload %d is not valid UTF-8 and cannot be passed as a string", req.Op, i)
		}
		req.Payloads[i] = base64.StdEncoding.EncodeToString(p)
	}
	if len(payloads) == 0 {
		return &octokitResponse{Signatures: []string{}, Valid: []bool{}}, nil
	}
	cache, err := NPMCache()
	if err != nil {
		return nil, err
	}
	if _, err := cachedFile(methodsDir); err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("octokit %s: node is required: %w", req.Op, err)
	}
	input, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("octokit %s: encode request: %w", req.Op, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), octokitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--input-type=module", "--eval", octokitScript)
	cmd.Dir = cache // bare imports resolve from the cache's node_modules
	cmd.Stdin = bytes.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	var resp octokitResponse
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		if runErr != nil {
			return nil, fmt.Errorf("octokit %s: node failed: %w: %s", req.Op, runErr, firstLine(stderr.String()))
		}
		return nil, fmt.Errorf("octokit %s: decode node output: %w", req.Op, err)
	}
	if resp.Error != "" {
		return nil, fmt.Errorf("octokit %s: %s", req.Op, resp.Error)
	}
	if runErr != nil {
		return nil, fmt.Errorf("octokit %s: node failed: %w", req.Op, runErr)
	}
	return &resp, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
