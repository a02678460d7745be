// Package e2e holds the end-to-end test of redis-ha (e2e_test.go, build tag e2e): a real
// kube-apiserver with etcd, controller manager, scheduler and KWOK fake nodes, Crossplane core
// out of cluster, and our composition function as a local process over mTLS. Run it with
// `make e2e`; see README.md in this directory. The harness itself is package controlplane.
package e2e
