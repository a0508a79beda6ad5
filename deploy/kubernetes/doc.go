// Package kubernetes holds fsnap's Kubernetes manifests (the YAML files
// next to this one) and their tests: every manifest decodes strictly into
// the official k8s.io/api types, and the Indexed Jobs' pods are run
// against MinIO, as processes of fsnap or as containers of its image
// ($FSNAP_IMAGE, see scripts/docker-test). It is a module of its own so
// that the Kubernetes API packages stay out of fsnap's dependencies.
package kubernetes
