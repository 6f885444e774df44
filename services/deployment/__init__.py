"""Kubernetes manifests generated from the code's own declarations (topics, who reads and
writes what, policies), so the manifests and the services cannot drift apart."""
