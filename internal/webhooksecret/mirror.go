package webhooksecret

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The mirror Secrets of the split layout (--components): the receiver runs
// apart from the reconciler and may read Secrets in the operator's own
// namespace only, so for each integration the reconciler keeps there one
// Secret holding exactly what the receiver needs to check a signature (the
// current, applied and previous webhook secrets and the previous one's
// expiry) and nothing else of the user's Secret: never the token.
//
// A mirror is named after the integration's UID, which is unique across
// namespaces and fits a Secret name whatever the integration's name;
// annotations say which integration it mirrors, for people and for the
// reconciler's watch. Owner references cannot cross namespaces, so the
// reconciler deletes the mirror when the integration goes and sweeps
// mirrors whose integration UID no longer exists.
const (
	// MirrorOfLabel, on a mirror, holds the UID of the integration it
	// mirrors; with ManagedByLabel it selects every mirror.
	MirrorOfLabel = "integrations.hookwarden.io/mirror-of"
	// MirrorIntegrationAnnotation, on a mirror, holds "namespace/name" of
	// the integration it mirrors.
	MirrorIntegrationAnnotation = "integrations.hookwarden.io/integration"
	// MirrorCurrentKey holds the webhook secret of the user's Secret.
	MirrorCurrentKey = "current"
	// MirrorAppliedKey holds the secret the hooks on GitHub carry.
	MirrorAppliedKey = "applied"
	// MirrorPreviousKey holds the previous secret during a rotation's grace
	// period; its expiry is the ExpiresAnnotation of the mirror.
	MirrorPreviousKey = "previous"

	mirrorPrefix = "hookwarden-webhook-secret-"
)

// MirrorName is the name of the mirror of the integration with this UID.
func MirrorName(uid types.UID) string { return mirrorPrefix + string(uid) }

// MirrorSelector selects every mirror Secret, for the receiver's watch and
// the reconciler's sweep.
func MirrorSelector() labels.Selector {
	managed, _ := labels.NewRequirement(ManagedByLabel, selection.Equals, []string{ManagedByValue})
	mirror, _ := labels.NewRequirement(MirrorOfLabel, selection.Exists, nil)
	return labels.NewSelector().Add(*managed, *mirror)
}

// Mirror is what a mirror Secret holds: the webhook secrets of one
// integration as the receiver accepts them.
type Mirror struct {
	// Integration and UID identify the integration mirrored.
	Integration types.NamespacedName
	UID         types.UID
	// Current is the webhook secret of the user's Secret, Applied the one
	// the hooks carry, Previous the one before until PreviousExpires.
	Current, Applied, Previous []byte
	PreviousExpires            time.Time
}

// NewMirror is the mirror Secret of m in namespace, the operator's.
func NewMirror(namespace string, m Mirror) *corev1.Secret {
	data := map[string][]byte{MirrorCurrentKey: bytes.Clone(m.Current), MirrorAppliedKey: bytes.Clone(m.Applied)}
	annotations := map[string]string{MirrorIntegrationAnnotation: m.Integration.String()}
	if len(m.Previous) > 0 {
		data[MirrorPreviousKey] = bytes.Clone(m.Previous)
		annotations[ExpiresAnnotation] = formatTime(m.PreviousExpires)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: MirrorName(m.UID), Namespace: namespace,
			Labels:      map[string]string{ManagedByLabel: ManagedByValue, MirrorOfLabel: string(m.UID), ReferencedLabel: ReferencedValue},
			Annotations: annotations,
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
}

// SameMirror reports whether the Secret a holds what b does (its data and
// the annotations and labels of the layout), so an unchanged mirror is not
// written again.
func SameMirror(a, b *corev1.Secret) bool {
	if a == nil || b == nil || len(a.Data) != len(b.Data) {
		return a == b
	}
	for k, v := range b.Data {
		if !bytes.Equal(a.Data[k], v) {
			return false
		}
	}
	for _, k := range []string{MirrorIntegrationAnnotation, ExpiresAnnotation} {
		if a.Annotations[k] != b.Annotations[k] {
			return false
		}
	}
	return maps.Equal(a.Labels, b.Labels)
}

// MirrorIntegration is the integration a mirror Secret mirrors, and false
// when s is not a mirror.
func MirrorIntegration(s metav1.Object) (types.NamespacedName, types.UID, bool) {
	l := s.GetLabels()
	uid := types.UID(l[MirrorOfLabel])
	if l[ManagedByLabel] != ManagedByValue || uid == "" {
		return types.NamespacedName{}, "", false
	}
	var key types.NamespacedName
	if ns, name, ok := strings.Cut(s.GetAnnotations()[MirrorIntegrationAnnotation], "/"); ok && ns != "" && name != "" {
		key = types.NamespacedName{Namespace: ns, Name: name}
	}
	return key, uid, true
}

// ParseMirror reads a mirror Secret as Load reads the integration's own
// Secrets: the same Loaded, with the same rules (a current secret that
// breaks them is reported, a previous one without a valid expiry is none).
func ParseMirror(s *corev1.Secret) Loaded {
	var l Loaded
	current := s.Data[MirrorCurrentKey]
	if err := Validate(MirrorCurrentKey, current); err != nil {
		l.CurrentProblem = fmt.Sprintf("mirror Secret %q: %v", s.Name, err)
	} else {
		l.Current = current
	}
	if applied := s.Data[MirrorAppliedKey]; len(applied) > 0 && !bytes.Equal(applied, l.Current) {
		l.Applied = applied
	}
	if expires, ok := Time(s, ExpiresAnnotation); ok && len(s.Data[MirrorPreviousKey]) > 0 {
		l.Previous, l.PreviousExpires = s.Data[MirrorPreviousKey], expires
	}
	return l
}

// LoadMirror reads the webhook secrets of the integration with this UID
// from its mirror in namespace, the operator's. A missing mirror (the
// reconciler has not written it yet) is reported in CurrentProblem, as a
// missing Secret is by Load.
func LoadMirror(ctx context.Context, reader client.Reader, namespace string, uid types.UID) (Loaded, error) {
	s := &corev1.Secret{}
	err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: MirrorName(uid)}, s)
	switch {
	case apierrors.IsNotFound(err):
		return Loaded{CurrentProblem: fmt.Sprintf("mirror Secret %q not written yet by the reconciler", MirrorName(uid))}, nil
	case err != nil:
		return Loaded{}, fmt.Errorf("get Secret %s/%s: %w", namespace, MirrorName(uid), err)
	}
	if l := s.GetLabels(); l[MirrorOfLabel] != string(uid) || l[ManagedByLabel] != ManagedByValue {
		// Never trust a Secret planted under a mirror's name.
		return Loaded{CurrentProblem: fmt.Sprintf("Secret %q lacks the labels of hookwarden's mirrors", MirrorName(uid))}, nil
	}
	return ParseMirror(s), nil
}
