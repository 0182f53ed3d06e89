// Package scheme builds the runtime.Scheme hookwarden uses: the Kubernetes
// built-in types and the hookwarden API.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	hookv1 "github.com/hookwarden/hookwarden/api/v1alpha1"
)

// New returns a scheme with the Kubernetes built-in and hookwarden types.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := hookv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}
