package githubsim

import (
	"net/http"
	"sort"
)

// Route is one REST operation the simulator implements: the method and path
// template exactly as GitHub's OpenAPI description spells them, and the
// description's operationId.
type Route struct {
	Method      string
	Path        string
	OperationID string
}

// String returns "METHOD /path/{template}", the key used by SetFault and
// request statistics.
func (r Route) String() string { return r.Method + " " + r.Path }

type authMode int

const (
	// The zero value, the default of every route: a personal access token
	// or installation token; requests without one see only what an
	// anonymous client sees.
	_ authMode = iota
	// authJWT: a GitHub App's JSON Web Token.
	authJWT
	// authOptional: anonymous requests are served (with the anonymous
	// rate limit).
	authOptional
)

type route struct {
	Route
	auth authMode
	// free marks requests that never spend rate limit (GET /rate_limit).
	free   bool
	handle func(*Server, *call) *response
}

func (rt *route) mutating() bool {
	switch rt.Method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// hookRoutes are the webhook operations, once for repositories and once for
// organizations.
func hookRoutes(prefix, family string) []*route {
	return []*route{
		{Route: Route{"GET", prefix + "/hooks", family + "/list-webhooks"}, handle: (*Server).listHooks},
		{Route: Route{"POST", prefix + "/hooks", family + "/create-webhook"}, handle: (*Server).createHook},
		{Route: Route{"GET", prefix + "/hooks/{hook_id}", family + "/get-webhook"}, handle: (*Server).getHook},
		{Route: Route{"PATCH", prefix + "/hooks/{hook_id}", family + "/update-webhook"}, handle: (*Server).updateHook},
		{Route: Route{"DELETE", prefix + "/hooks/{hook_id}", family + "/delete-webhook"}, handle: (*Server).deleteHook},
		{Route: Route{"GET", prefix + "/hooks/{hook_id}/config", family + "/get-webhook-config-for-" + configSuffix(family)}, handle: (*Server).getHookConfig},
		{Route: Route{"PATCH", prefix + "/hooks/{hook_id}/config", family + "/update-webhook-config-for-" + configSuffix(family)}, handle: (*Server).updateHookConfig},
		{Route: Route{"POST", prefix + "/hooks/{hook_id}/pings", family + "/ping-webhook"}, handle: (*Server).pingHook},
		{Route: Route{"GET", prefix + "/hooks/{hook_id}/deliveries", family + "/list-webhook-deliveries"}, handle: (*Server).listHookDeliveries},
		{Route: Route{"GET", prefix + "/hooks/{hook_id}/deliveries/{delivery_id}", family + "/get-webhook-delivery"}, handle: (*Server).getHookDelivery},
		{Route: Route{"POST", prefix + "/hooks/{hook_id}/deliveries/{delivery_id}/attempts", family + "/redeliver-webhook-delivery"}, handle: (*Server).redeliverHookDelivery},
	}
}

func configSuffix(family string) string {
	if family == "repos" {
		return "repo"
	}
	return "org"
}

func routeTable() []*route {
	table := hookRoutes("/repos/{owner}/{repo}", "repos")
	table = append(table, hookRoutes("/orgs/{org}", "orgs")...)
	table = append(table,
		&route{Route: Route{"GET", "/app/hook/config", "apps/get-webhook-config-for-app"}, auth: authJWT, handle: (*Server).getAppHookConfig},
		&route{Route: Route{"PATCH", "/app/hook/config", "apps/update-webhook-config-for-app"}, auth: authJWT, handle: (*Server).updateAppHookConfig},
		&route{Route: Route{"GET", "/app/hook/deliveries", "apps/list-webhook-deliveries"}, auth: authJWT, handle: (*Server).listHookDeliveries},
		&route{Route: Route{"GET", "/app/hook/deliveries/{delivery_id}", "apps/get-webhook-delivery"}, auth: authJWT, handle: (*Server).getHookDelivery},
		&route{Route: Route{"POST", "/app/hook/deliveries/{delivery_id}/attempts", "apps/redeliver-webhook-delivery"}, auth: authJWT, handle: (*Server).redeliverHookDelivery},
		&route{Route: Route{"POST", "/app/installations/{installation_id}/access_tokens", "apps/create-installation-access-token"}, auth: authJWT, handle: (*Server).createInstallationToken},
		&route{Route: Route{"GET", "/repos/{owner}/{repo}/issues", "issues/list-for-repo"}, handle: (*Server).listIssues},
		&route{Route: Route{"POST", "/repos/{owner}/{repo}/issues", "issues/create"}, handle: (*Server).createIssue},
		&route{Route: Route{"GET", "/repos/{owner}/{repo}/issues/{issue_number}", "issues/get"}, handle: (*Server).getIssue},
		&route{Route: Route{"PATCH", "/repos/{owner}/{repo}/issues/{issue_number}", "issues/update"}, handle: (*Server).updateIssue},
		&route{Route: Route{"GET", "/meta", "meta/get"}, auth: authOptional, handle: (*Server).getMeta},
		&route{Route: Route{"GET", "/rate_limit", "rate-limit/get"}, auth: authOptional, free: true, handle: (*Server).getRateLimit},
	)
	return table
}

// Routes lists every operation the simulator implements, sorted by path and
// method.
func Routes() []Route {
	table := routeTable()
	out := make([]Route, len(table))
	for i, rt := range table {
		out[i] = rt.Route
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}
