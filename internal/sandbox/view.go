package sandbox

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// View renders what a user wants to see of an integration's status: its
// conditions, hooks, deliveries and the pull requests and issues tracked.
// It never shows a secret: status holds none.
func View(gi *hookv1.GitHubIntegration) string {
	var b strings.Builder
	st := gi.Status
	fmt.Fprintf(&b, "\n--- %s/%s\n", gi.Namespace, gi.Name)
	writeConditions(&b, st.Conditions)
	fmt.Fprintf(&b, "  payload URL  %s\n", st.PayloadURL)
	for _, h := range st.Hooks {
		errText := ""
		if h.LastError != "" {
			errText = "  error: " + h.LastError
		}
		fmt.Fprintf(&b, "  hook         %s id=%d active=%t events=%s%s\n", h.Target, h.ID, h.Active, strings.Join(h.Events, ","), errText)
	}
	if st.WebhookSecret != nil {
		fmt.Fprintf(&b, "  secret       %s\n", st.WebhookSecret.Fingerprint)
	}
	d := st.Deliveries
	fmt.Fprintf(&b, "  deliveries   received=%d processed=%d ignored=%d rejected=%d duplicates=%d redelivered=%d\n",
		d.Received, d.Processed, d.Ignored, d.Rejected, d.Duplicates, d.Redelivered)
	for _, e := range st.EventCounts {
		fmt.Fprintf(&b, "  event        %-14s %d\n", e.Event, e.Count)
	}
	if l := st.LastDelivery; l != nil {
		fmt.Fprintf(&b, "  last         %s %s %s from %s: %s\n", l.Event, l.Action, l.ID, l.Target, l.Result)
	}
	if r := st.LastRejection; r != nil {
		fmt.Fprintf(&b, "  rejected     %s at %s\n", r.Reason, r.Time.Format(time.RFC3339))
	}
	for _, pr := range st.PullRequests {
		fmt.Fprintf(&b, "  pull request %s#%d %-7s %q link=%s\n", pr.Repository, pr.Number, pr.State, pr.Title, pr.LinkKey)
	}
	for _, is := range st.Issues {
		fmt.Fprintf(&b, "  issue        %s#%d %-7s %q\n", is.Repository, is.Number, is.State, is.Title)
	}
	return b.String()
}

// IssueView renders a GitHubIssue's status: conditions, the issue on
// GitHub and the linked pull requests.
func IssueView(is *hookv1.GitHubIssue) string {
	var b strings.Builder
	st := is.Status
	fmt.Fprintf(&b, "\n--- GitHubIssue %s/%s\n", is.Namespace, is.Name)
	writeConditions(&b, st.Conditions)
	fmt.Fprintf(&b, "  issue        %s#%d %-7s %q %s\n", is.Spec.Repository, st.Number, st.State, st.Title, st.URL)
	for _, pr := range st.PullRequests {
		fmt.Fprintf(&b, "  linked PR    %s#%d %-7s %q\n", pr.Repository, pr.Number, pr.State, pr.Title)
	}
	return b.String()
}

func writeConditions(b *strings.Builder, conds []metav1.Condition) {
	for _, c := range conds {
		fmt.Fprintf(b, "  %-12s %-6s %-18s %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
}
