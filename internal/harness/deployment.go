package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// DeploymentRuntimeEnv is the Go runtime's settings (GOMEMLIMIT, GOGC and
// any other GO* variable) of the manager container of config/manager, as
// NAME=value. StartOperator runs hookwarden with them, so that what the
// harness measures is what the Deployment runs.
func DeploymentRuntimeEnv() ([]string, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(root, "config", "manager", "manager.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var env []string
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if d.Kind != "Deployment" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name != "manager" {
				continue
			}
			for _, e := range c.Env {
				if strings.HasPrefix(e.Name, "GO") && e.ValueFrom == nil {
					env = append(env, e.Name+"="+e.Value)
				}
			}
		}
	}
	return env, nil
}

// moduleRoot is the directory of hookwarden's go.mod, above the working
// directory of the test.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
