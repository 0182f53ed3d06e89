package main

import (
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// maxInterned bounds the strings a stringPool keeps, which it never
// forgets: the values it is given come from small sets (namespaces, label
// keys, condition reasons, event names), but users choose some of them
// (label values); past the bound, strings are kept as decoded, and the
// pool holds at most a few hundred KB.
const maxInterned = 4096

// maxLabelSets bounds the label maps a stringPool shares, which it never
// forgets either; maxLabelCandidates bounds the label sets it has seen once
// (their hashes only), forgotten all at once when full.
const (
	maxLabelSets       = 256
	maxLabelCandidates = 4096
)

// maxLists bounds the string lists a stringPool shares (event lists: few
// distinct ones, each kept for good).
const maxLists = 256

// stringPool shares one copy of the strings that many cached objects hold
// the same value of. The decoders allocate every string of every object
// anew: at 10,000 integrations, their namespace, finalizers, event names
// and condition reasons, and their Secrets' namespace, label and finalizer,
// were some 400 bytes an integration (docs/performance.md).
type stringPool struct {
	mu sync.Mutex
	m  map[string]string
	// labelSets holds one map for each label set objects share, by the
	// hash of its pairs: a Go map costs some 300 bytes however few its
	// entries, and every Secret hookwarden labelled has the same labels.
	labelSets map[uint64]map[string]string
	// labelCandidates are the hashes of label sets seen once: a set is
	// shared from its second sighting, so that the label sets of a single
	// object (an owned Secret names its integration) do not fill
	// labelSets.
	labelCandidates map[uint64]struct{}
	// lists holds one slice for each event list objects share, by its
	// strings joined: the list a hook carries is the integration's, the
	// same for most integrations.
	lists map[string][]string
	seed  maphash.Seed
}

func newStringPool() *stringPool {
	return &stringPool{m: map[string]string{}, labelSets: map[uint64]map[string]string{},
		labelCandidates: map[uint64]struct{}{}, lists: map[string][]string{}, seed: maphash.MakeSeed()}
}

// intern returns the pool's copy of s, which it keeps if there is room.
func (p *stringPool) intern(s string) string {
	if s == "" {
		return s
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.m[s]; ok {
		return v
	}
	if len(p.m) < maxInterned {
		// A copy: s may share its bytes with something larger.
		s = strings.Clone(s)
		p.m[s] = s
	}
	return s
}

// internLabels returns labels with its strings interned: the map other
// objects with the same labels share once the set was seen twice, and a
// map of its own otherwise. A shared map is never written to: the cache's
// objects are read-only (readers get deep copies, or must not change what
// an informer hands them), and the transform replaces labels, never edits
// them.
func (p *stringPool) internLabels(labels map[string]string) map[string]string {
	h := p.hashLabels(labels)
	p.mu.Lock()
	shared, ok := p.labelSets[h]
	p.mu.Unlock()
	if ok && maps.Equal(shared, labels) {
		return shared
	}
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		out[p.intern(k)] = p.intern(v)
	}
	if ok {
		// Another set with the same hash is shared: keep this one apart.
		return out
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, seen := p.labelCandidates[h]; seen && len(p.labelSets) < maxLabelSets {
		delete(p.labelCandidates, h)
		if shared, ok := p.labelSets[h]; ok {
			// Shared meanwhile by another caller.
			if maps.Equal(shared, out) {
				return shared
			}
			return out
		}
		p.labelSets[h] = out
		return out
	}
	if len(p.labelCandidates) >= maxLabelCandidates {
		clear(p.labelCandidates)
	}
	p.labelCandidates[h] = struct{}{}
	return out
}

// hashLabels hashes the pairs of labels whatever the order a map yields
// them in: the sum of the hashes of its pairs.
func (p *stringPool) hashLabels(labels map[string]string) uint64 {
	var sum uint64
	for k, v := range labels {
		sum += maphash.Comparable(p.seed, [2]string{k, v})
	}
	return sum
}

func (p *stringPool) internAll(ss []string) {
	for i := range ss {
		ss[i] = p.intern(ss[i])
	}
}

// internList returns the pool's slice holding the strings of ss, in the
// same order, which it keeps if there is room; ss interned otherwise. A
// shared slice is never written to, as shared label maps are not.
func (p *stringPool) internList(ss []string) []string {
	if len(ss) == 0 {
		return ss
	}
	key := strings.Join(ss, "\x00")
	p.mu.Lock()
	shared, ok := p.lists[key]
	p.mu.Unlock()
	if ok && slices.Equal(shared, ss) {
		return shared
	}
	p.internAll(ss)
	if ok {
		// Another list with the same key ("a\x00b" as one name) is shared.
		return ss
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if shared, ok := p.lists[key]; ok {
		// Shared meanwhile by another caller.
		if slices.Equal(shared, ss) {
			return shared
		}
		return ss
	}
	if len(p.lists) < maxLists {
		ss = slices.Clip(ss)
		p.lists[key] = ss
	}
	return ss
}

// internMeta interns the metadata every object of a namespace shares the
// values of: the namespace, label keys and values (and whole label sets),
// annotation keys, finalizers and owner kinds. Names, UIDs and resource
// versions are unique and left alone.
func (p *stringPool) internMeta(m metav1.Object) {
	m.SetNamespace(p.intern(m.GetNamespace()))
	p.internAll(m.GetFinalizers())
	if labels := m.GetLabels(); len(labels) > 0 {
		m.SetLabels(p.internLabels(labels))
	}
	if annotations := m.GetAnnotations(); len(annotations) > 0 {
		out := make(map[string]string, len(annotations))
		for k, v := range annotations {
			out[p.intern(k)] = v
		}
		m.SetAnnotations(out)
	}
	refs := m.GetOwnerReferences()
	for i := range refs {
		refs[i].APIVersion = p.intern(refs[i].APIVersion)
		refs[i].Kind = p.intern(refs[i].Kind)
	}
}

// internIntegration interns the fields of a GitHubIntegration whose values
// come from a small set: event names, enumerations, condition types,
// statuses and reasons. Values that keep changing (the receivers' pod
// names, rejection messages) are left alone: they would fill the pool.
func (p *stringPool) internIntegration(gi *hookv1.GitHubIntegration) {
	spec := &gi.Spec
	spec.Events = p.internList(spec.Events)
	spec.ContentType = hookv1.ContentType(p.intern(string(spec.ContentType)))
	spec.DeletionPolicy = hookv1.DeletionPolicy(p.intern(string(spec.DeletionPolicy)))
	spec.SecretRef.TokenKey = p.intern(spec.SecretRef.TokenKey)
	spec.Links.PullRequestKey = p.intern(spec.Links.PullRequestKey)
	spec.Links.IssueLabel = p.intern(spec.Links.IssueLabel)

	st := &gi.Status
	for i := range st.Conditions {
		c := &st.Conditions[i]
		c.Type = p.intern(c.Type)
		c.Status = metav1.ConditionStatus(p.intern(string(c.Status)))
		c.Reason = p.intern(c.Reason)
	}
	for i := range st.Hooks {
		h := &st.Hooks[i]
		h.Events = p.internList(h.Events)
		if h.Target == st.Target {
			// One copy for the two fields of a single-target integration.
			h.Target = st.Target
		}
	}
	for i := range st.EventCounts {
		st.EventCounts[i].Event = p.intern(st.EventCounts[i].Event)
	}
	if d := st.LastDelivery; d != nil {
		d.Event = p.intern(d.Event)
		d.Action = p.intern(d.Action)
		d.Result = hookv1.DeliveryResult(p.intern(string(d.Result)))
	}
	for i := range st.PullRequests {
		st.PullRequests[i].State = p.intern(st.PullRequests[i].State)
	}
	for i := range st.Issues {
		st.Issues[i].State = p.intern(st.Issues[i].State)
	}
}
