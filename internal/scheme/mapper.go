package scheme

import (
	"net/http"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// NewMapper returns the RESTMapper of hookwarden's manager: controller-
// runtime's dynamic mapper, which discovers an API group the first time one
// of its kinds is asked for, with the mappings it found remembered
// (RememberMappings).
func NewMapper(cfg *rest.Config, httpClient *http.Client) (meta.RESTMapper, error) {
	m, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	return RememberMappings(m), nil
}

// RememberMappings returns m with the answers of RESTMapping remembered,
// the ones it found only.
//
// Every call of the client and of a cache restricted to namespaces asks
// RESTMapping where a kind is served and whether it is namespaced; the
// dynamic mapper answers by trying each API group version it knows in
// turn, and each one that does not serve the kind makes an error value.
// Taking in 1,000 integrations made some 100 MB of that garbage, about a
// third of all the operator allocated (docs/performance.md). A mapping
// found is kept: the dynamic mapper, too, answers from what it learned and
// looks again only after a miss, and the kinds hookwarden asks for are
// those compiled into it, at the versions compiled in (a version the API
// server stopped serving fails the requests themselves, remembered or not).
// A kind not found is asked of m again each time, so that a CRD installed
// later is found as it would be without this.
func RememberMappings(m meta.RESTMapper) meta.RESTMapper {
	return &rememberingMapper{RESTMapper: m, found: map[mappingKey]*meta.RESTMapping{}}
}

type rememberingMapper struct {
	meta.RESTMapper
	mu    sync.RWMutex
	found map[mappingKey]*meta.RESTMapping
}

// mappingKey is a question RESTMapping was asked: a group, a kind and the
// versions in the caller's order of preference, joined.
type mappingKey struct {
	gk       schema.GroupKind
	versions string
}

func (r *rememberingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	key := mappingKey{gk: gk}
	switch len(versions) {
	case 0:
	case 1:
		key.versions = versions[0]
	default:
		// No version holds a comma.
		key.versions = strings.Join(versions, ",")
	}
	r.mu.RLock()
	found, ok := r.found[key]
	r.mu.RUnlock()
	if ok {
		// A copy: the caller may change what it is given, as it may
		// change what the dynamic mapper gives it.
		c := *found
		return &c, nil
	}
	mapping, err := r.RESTMapper.RESTMapping(gk, versions...)
	if err != nil {
		return mapping, err
	}
	c := *mapping
	r.mu.Lock()
	r.found[key] = &c
	r.mu.Unlock()
	return mapping, nil
}
