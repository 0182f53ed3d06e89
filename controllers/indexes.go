package controllers

import (
	"context"

	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
	"github.com/hookwarden/hookwarden/internal/webhooksecret"
)

// setupIndexes registers the indexes the controllers of this package list
// by.
func setupIndexes(ctx context.Context, c cache.Cache) error {
	return webhooksecret.IndexSecretRefs(ctx, c)
}

// integrationsOfSecret lists, for a watch's map function, the
// GitHubIntegrations whose spec.secretRef names secret. A map function
// returns no error: a failure is logged and maps to none.
func integrationsOfSecret(ctx context.Context, c client.Reader, secret client.Object) []hookv1.GitHubIntegration {
	items, err := webhooksecret.Referencing(ctx, c, secret.GetNamespace(), secret.GetName())
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list the GitHubIntegrations of a Secret", "secret", klog.KObj(secret))
		return nil
	}
	return items
}
