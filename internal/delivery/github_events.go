package delivery

import "strings"

// gitHubEventNames are the webhook events GitHub publishes (the x-webhooks of
// its OpenAPI description of api.github.com, @octokit/openapi 23.0.2), as
// sent in X-GitHub-Event; TestGitHubEventsArePublished keeps the list equal
// to the published one. X-GitHub-Event is not signed: a name that is not
// GitHub's must never become a metric series or a status key, or a captured
// delivery replayed with invented names would grow both without bound.
var gitHubEventNames = [...]string{
	"branch_protection_configuration", "branch_protection_rule", "check_run", "check_suite",
	"code_scanning_alert", "commit_comment", "create", "custom_property", "custom_property_values",
	"delete", "dependabot_alert", "deploy_key", "deployment", "deployment_protection_rule",
	"deployment_review", "deployment_status", "discussion", "discussion_comment", "fork",
	"github_app_authorization", "gollum", "installation", "installation_repositories",
	"installation_target", "issue_comment", "issue_dependencies", "issues", "label",
	"marketplace_purchase", "member", "membership", "merge_group", "meta", "milestone", "org_block",
	"organization", "package", "page_build", "personal_access_token_request", "ping", "project",
	"project_card", "project_column", "projects_v2", "projects_v2_item", "projects_v2_status_update",
	"public", "pull_request", "pull_request_review", "pull_request_review_comment",
	"pull_request_review_thread", "push", "registry_package", "release", "repository",
	"repository_advisory", "repository_dispatch", "repository_import", "repository_ruleset",
	"repository_vulnerability_alert", "secret_scanning_alert", "secret_scanning_alert_location",
	"secret_scanning_scan", "security_advisory", "security_and_analysis", "sponsorship", "star",
	"status", "sub_issues", "team", "team_add", "watch", "workflow_dispatch", "workflow_job",
	"workflow_run",
}

// gitHubEvents is gitHubEventNames as a set, each name mapped to itself.
var gitHubEvents = func() map[string]string {
	m := make(map[string]string, len(gitHubEventNames))
	for _, name := range gitHubEventNames {
		m[name] = name
	}
	return m
}()

// Known reports whether name is one of GitHub's webhook events.
func Known(name string) bool {
	_, ok := gitHubEvents[name]
	return ok
}

// eventName returns a copy of name: GitHub's own string for an event it
// publishes, which costs no allocation, else a clone.
func eventName(name string) string {
	if known, ok := gitHubEvents[name]; ok {
		return known
	}
	return strings.Clone(name)
}

// KnownEvents lists GitHub's webhook events.
func KnownEvents() []string { return append([]string(nil), gitHubEventNames[:]...) }
