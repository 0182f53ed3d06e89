// Package githubsim is a stand-in for the GitHub REST API (api.github.com)
// that tests, benchmarks and the sandbox run on loopback.
//
// It implements the parts of the API that hookwarden uses: repository and
// organization webhooks (CRUD, /config, /pings, /deliveries, redelivery),
// the GitHub App webhook (JWT authentication) and installation access tokens,
// issues, /meta and /rate_limit, and GitHub's limit of 20 hooks per event on
// a target. With WithEnterprise it is a GitHub Enterprise Server: the API
// under /api/v3, over TLS with a certificate of a CA of its own
// (CACertificatePEM). It follows GitHub's rules where a client can
// notice them: token scopes and fine-grained permissions, 401 "Bad
// credentials", 404 instead of 403 when a token cannot see a resource, 422
// validation errors, Link pagination, ETags with 304 answers that spend no
// rate limit, primary and secondary rate limits with GitHub's headers (among
// them 100 concurrent requests per user, App or installation), and the
// secret masked as "********" in every read.
//
// Like GitHub it delivers events to registered hooks: a signed POST
// (X-Hub-Signature and X-Hub-Signature-256 over the exact body) with the
// X-GitHub-* headers, a ping when a hook is created, a 10 s timeout, and a
// delivery log with every attempt that /deliveries serves.
//
// Every response shape is checked in this package's tests against GitHub's
// published OpenAPI description; Routes lists the operations covered.
//
// Where GitHub's exact wording is not published (some 422 messages, JWT
// errors), the messages follow GitHub's documented error format and the
// wording observed in public reports; they are marked in the code.
//
// Behind the API's back, tests use the Go API: AddRepo, AddOrg, AddToken,
// AddFineGrainedToken, AddApp and AddInstallation set the scene; Hooks,
// Deliveries, Issues, Stats and Requests inspect it; SetHook, EditHook and
// DeleteHook cause drift; TriggerEvent, Ping and Redeliver deliver events
// synchronously and return the attempts; SetFault injects latency, 5xx
// answers, hangs and connection resets.
//
// A test typically does:
//
//	sim := githubsim.New()
//	defer sim.Close()
//	sim.AddRepo("acme/demo")
//	sim.AddToken("ghp_example", []string{"admin:repo_hook"}, "acme/demo")
//	client := github.NewClient(nil).WithAuthToken("ghp_example")
//	client.BaseURL, _ = url.Parse(sim.URL() + "/")
package githubsim
