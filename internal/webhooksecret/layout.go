package webhooksecret

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The operator-owned Secrets: beside each GitHubIntegration <name>,
// hookwarden keeps <name>-applied-webhook-secret, the secret the hooks on
// GitHub carry now (GitHub never returns a hook's secret, and the user's
// Secret may change at any moment, even while the operator is down), and,
// during a rotation's grace period, <name>-previous-webhook-secret, the one
// they carried before, with its expiry.
const (
	// Key is the data key of the webhook secret in both owned Secrets.
	Key = "webhook_secret"
	// ManagedByLabel marks Secrets hookwarden created and owns.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the ManagedByLabel value of hookwarden's Secrets.
	ManagedByValue = "hookwarden"
	// IntegrationLabel names the GitHubIntegration a Secret belongs to.
	IntegrationLabel = "integrations.hookwarden.io/integration"
	// ReferencedLabel, set to ReferencedValue, marks every Secret hookwarden
	// has a reason to know: the Secrets integrations reference (the
	// reconciler labels one when it first reads it, and removes the label
	// once no integration references it) and hookwarden's own Secrets. Its
	// caches and watches of Secrets select on it (ReferencedSelector), so
	// the other Secrets of a namespace cost it no memory. It never marks a
	// Secret for deletion.
	ReferencedLabel = "integrations.hookwarden.io/referenced"
	// ReferencedValue is the value of ReferencedLabel.
	ReferencedValue = "true"
	// ExpiresAnnotation, on the previous Secret, holds the RFC 3339 time
	// after which the previous webhook secret is no longer accepted.
	ExpiresAnnotation = "integrations.hookwarden.io/expires-at"
	// RotatedAnnotation, on the applied Secret, holds the RFC 3339 time its
	// secret was first carried by every hook: the schedule of
	// secretRotation.interval counts from it.
	RotatedAnnotation = "integrations.hookwarden.io/rotated-at"
	// SupersededAnnotation, on the previous Secret, holds the RFC 3339 time
	// its secret started to be replaced: the new secret is pushed to the
	// hooks only once every receiver had time to learn it from there,
	// however often the integration is reconciled meanwhile.
	SupersededAnnotation = "integrations.hookwarden.io/superseded-at"

	appliedSuffix  = "-applied-webhook-secret"
	previousSuffix = "-previous-webhook-secret"
)

// AppliedName is the name of the Secret holding the webhook secret the
// hooks of integration carry.
func AppliedName(integration string) string { return integration + appliedSuffix }

// PreviousName is the name of the Secret keeping integration's previous
// webhook secret during a rotation's grace period.
func PreviousName(integration string) string { return integration + previousSuffix }

// IntegrationOf is the integration whose owned Secret is named name, and
// false for any other name.
func IntegrationOf(name string) (string, bool) {
	for _, suffix := range []string{appliedSuffix, previousSuffix} {
		if integration, ok := strings.CutSuffix(name, suffix); ok && integration != "" {
			return integration, true
		}
	}
	return "", false
}

// Labels are the labels of integration's owned Secrets.
func Labels(integration string) map[string]string {
	return map[string]string{ManagedByLabel: ManagedByValue, IntegrationLabel: integration, ReferencedLabel: ReferencedValue}
}

// ReferencedSelector selects the Secrets labelled ReferencedLabel: the only
// ones hookwarden's caches and watches of Secrets hold.
func ReferencedSelector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{ReferencedLabel: ReferencedValue})
}

// IsReferenced reports whether s carries ReferencedLabel.
func IsReferenced(s metav1.Object) bool {
	return s.GetLabels()[ReferencedLabel] == ReferencedValue
}

// IsOwned reports whether s is one of hookwarden's own Secrets (an owned
// webhook-secret Secret or a mirror), which keep ReferencedLabel for as
// long as they exist.
func IsOwned(s metav1.Object) bool {
	return s.GetLabels()[ManagedByLabel] == ManagedByValue
}

// HasLabels reports whether s carries the labels of integration's owned
// Secrets.
func HasLabels(s metav1.Object, integration string) bool {
	l := s.GetLabels()
	return l[ManagedByLabel] == ManagedByValue && l[IntegrationLabel] == integration
}

// NewApplied is the applied Secret of integration holding value, carried
// by every hook since rotated. The caller sets the owner.
func NewApplied(namespace, integration string, value []byte, rotated time.Time) *corev1.Secret {
	return newOwned(namespace, AppliedName(integration), integration, value,
		map[string]string{RotatedAnnotation: formatTime(rotated)})
}

// NewPrevious is the previous Secret of integration holding value,
// accepted until expires, replaced since superseded. The caller sets the
// owner.
func NewPrevious(namespace, integration string, value []byte, expires, superseded time.Time) *corev1.Secret {
	return newOwned(namespace, PreviousName(integration), integration, value,
		map[string]string{ExpiresAnnotation: formatTime(expires),
			// To the nanosecond: the wait for the receivers counts from it.
			SupersededAnnotation: superseded.UTC().Format(time.RFC3339Nano)})
}

func newOwned(namespace, name, integration string, value []byte, annotations map[string]string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: Labels(integration), Annotations: annotations},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{Key: bytes.Clone(value)},
	}
}

// Value is the webhook secret an owned Secret holds; nil for none.
func Value(s *corev1.Secret) []byte {
	if s == nil {
		return nil
	}
	return s.Data[Key]
}

// Time reads the RFC 3339 annotation key of s.
func Time(s *corev1.Secret, key string) (time.Time, bool) {
	if s == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s.Annotations[key]))
	return t, err == nil
}

// Previous is the previous secret s holds and its expiry. Without a valid
// expiry it holds none: a previous secret that never expires would defeat
// the rotation.
func Previous(s *corev1.Secret) (value []byte, expires time.Time, ok bool) {
	expires, ok = Time(s, ExpiresAnnotation)
	value = Value(s)
	if !ok || len(value) == 0 {
		return nil, time.Time{}, false
	}
	return value, expires, true
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Loaded are an integration's webhook secrets, as read by Load.
type Loaded struct {
	// Current is the webhook secret of the integration's Secret; nil when
	// it is missing or not valid, and then CurrentProblem says why (never
	// a value).
	Current        []byte
	CurrentProblem string
	// Applied is the secret the hooks carry; nil when there is none yet or
	// it equals Current.
	Applied []byte
	// Previous is the secret before the last rotation, accepted until
	// PreviousExpires; nil when there is none.
	Previous        []byte
	PreviousExpires time.Time
	// Versions are what the secrets were read from: given back to the next
	// Load of the same integration, they spare it the Secrets that did not
	// change since.
	Versions Versions
}

// Versions are the resourceVersions of the Secrets a Load read: the
// integration's Secret, the applied and the previous Secret. 0 stands for a
// Secret that was missing, not the integration's, or whose resourceVersion
// is not a number (they are opaque to clients; the API server's are
// numbers): such a Secret is read again each time.
type Versions struct {
	Current, Applied, Previous uint64
	// AppliedIsCurrent: the applied Secret held the current secret, which
	// Loaded.Applied does not repeat.
	AppliedIsCurrent bool
}

// CachedVersion answers, for a Secret of the integration's namespace, what
// the caller's cache of the labelled Secrets' metadata holds: its
// resourceVersion as a number (0 when it is not a number, or the cache
// cannot tell), and mayExist false only when the cache does not hold it.
// Every owned Secret is in that cache from its creation (Labels), and its
// arrival there makes the caller load again; the integration's own Secret
// is there once the reconciler labelled it.
type CachedVersion func(name string) (version uint64, mayExist bool)

// Cache is what Load learns of the Secrets without reading them.
type Cache struct {
	// Version is the caller's cache of the labelled Secrets' metadata.
	Version CachedVersion
	// Patches, when the reconciler runs in the caller's process, are its
	// own metadata patches of Secrets: a Secret that only they changed
	// since it was read is not read again.
	Patches *OwnPatches
}

// Load reads the webhook secrets of the integration namespace/integration
// (whose UID is uid): the current one from key of its Secret secretName,
// and the applied and previous ones from its owned Secrets. An owned Secret
// the integration does not control is ignored: a Secret planted under one
// of those names is never trusted. A missing or unusable current secret is
// reported in CurrentProblem, not as an error.
//
// cache, when not nil, is what the caller knows of the Secrets (Cache). An
// owned Secret missing from its cache is not read, so that loading an
// integration with no rotation under way reads one Secret, not three.
// known, when not nil, is what Load returned before for the same
// integration (uid included), Secret and key: a Secret whose resourceVersion
// the cache still shows as the one known, or shows as one that only
// hookwarden's own metadata patches made from it, is not read again, and
// its secret is taken from known.
func Load(ctx context.Context, reader client.Reader, namespace, integration string, uid types.UID, secretName, key string,
	cache *Cache, known *Loaded) (Loaded, error) {
	var cached CachedVersion
	if cache != nil {
		cached = cache.Version
	}
	// unchanged returns the version the cache shows the Secret name at,
	// and whether its data is that of the version known.
	unchanged := func(name string, version uint64) (uint64, bool) {
		if cached == nil || known == nil || version == 0 {
			return 0, false
		}
		v, _ := cached(name)
		return v, v == version || cache.Patches.SameData(types.NamespacedName{Namespace: namespace, Name: name}, version, v)
	}

	var l Loaded
	if v, ok := unchanged(secretName, known.versionsOrZero().Current); ok {
		l.Current, l.CurrentProblem, l.Versions.Current = known.Current, known.CurrentProblem, v
	} else {
		current := &corev1.Secret{}
		err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: secretName}, current)
		switch {
		case apierrors.IsNotFound(err):
			l.CurrentProblem = fmt.Sprintf("Secret %q not found", secretName)
		case err != nil:
			return Loaded{}, fmt.Errorf("get Secret %s/%s: %w", namespace, secretName, err)
		default:
			l.Versions.Current = ParseVersion(current.ResourceVersion)
			value, ok := current.Data[key]
			if !ok {
				l.CurrentProblem = fmt.Sprintf("Secret %q has no key %q", secretName, key)
			} else if err := Validate(key, value); err != nil {
				l.CurrentProblem = fmt.Sprintf("Secret %q: %v", secretName, err)
			} else {
				l.Current = value
			}
		}
	}

	// owned reads an owned Secret, nil when missing or not the
	// integration's.
	owned := func(name string) (*corev1.Secret, error) {
		if cached != nil {
			if _, mayExist := cached(name); !mayExist {
				return nil, nil
			}
		}
		s := &corev1.Secret{}
		err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, s)
		switch {
		case apierrors.IsNotFound(err):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("get Secret %s/%s: %w", namespace, name, err)
		}
		if ref := metav1.GetControllerOf(s); ref == nil || ref.UID != uid {
			return nil, nil
		}
		return s, nil
	}

	var applied []byte
	if v, ok := unchanged(AppliedName(integration), known.versionsOrZero().Applied); ok {
		applied, l.Versions.Applied = known.Applied, v
		if known.Versions.AppliedIsCurrent {
			applied = known.Current
		}
	} else {
		s, err := owned(AppliedName(integration))
		if err != nil {
			return Loaded{}, err
		}
		if s != nil {
			applied, l.Versions.Applied = Value(s), ParseVersion(s.ResourceVersion)
		}
	}
	if len(applied) > 0 && bytes.Equal(applied, l.Current) {
		l.Versions.AppliedIsCurrent = true
	} else if len(applied) > 0 {
		l.Applied = applied
	}

	if v, ok := unchanged(PreviousName(integration), known.versionsOrZero().Previous); ok {
		l.Previous, l.PreviousExpires, l.Versions.Previous = known.Previous, known.PreviousExpires, v
	} else {
		s, err := owned(PreviousName(integration))
		if err != nil {
			return Loaded{}, err
		}
		if s != nil {
			l.Versions.Previous = ParseVersion(s.ResourceVersion)
			if value, expires, ok := Previous(s); ok {
				l.Previous, l.PreviousExpires = value, expires
			}
		}
	}
	return l, nil
}

// versionsOrZero is l's Versions, or none for a nil l.
func (l *Loaded) versionsOrZero() Versions {
	if l == nil {
		return Versions{}
	}
	return l.Versions
}
