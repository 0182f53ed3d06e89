package controllers

import (
	"strings"
	"time"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// copyLiveState shows in status the state and title of the newest issues
// delivery the receiver recorded for this issue (in the integration's
// status.issues) since the last look at GitHub: a change made on GitHub
// shows within seconds, without waiting for the next resync, and without a
// GitHub call. Status times have whole seconds, so a delivery recorded in
// the second of the last look counts too.
func copyLiveState(obj *hookv1.GitHubIssue, gi *hookv1.GitHubIntegration, seen time.Time) {
	if obj.Status.Number == 0 {
		return
	}
	for _, is := range gi.Status.Issues {
		if is.Number == obj.Status.Number && strings.EqualFold(is.Repository, obj.Spec.Repository) && !is.UpdatedTime.Time.Before(seen.Truncate(time.Second)) {
			obj.Status.State = is.State
			if is.Title != "" {
				obj.Status.Title = is.Title
			}
			return
		}
	}
}
