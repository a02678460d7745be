package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group is the API group of every redis-ha composite resource.
const Group = "redisha.io"

// Version is the API version this package defines.
const Version = "v1alpha1"

// Kinds and resource names of the composite resources and the claim. The namespaced RedisHA
// is the Crossplane v2 API; XRedisHA and RedisHAClaim are the legacy cluster XR and its claim.
const (
	RedisHAKind        = "RedisHA"
	RedisHAPlural      = "redishas"
	XRedisHAKind       = "XRedisHA"
	XRedisHAPlural     = "xredishas"
	RedisHAClaimKind   = "RedisHAClaim"
	RedisHAClaimPlural = "redishaclaims"
)

// GroupVersion returns the group and version of the types in this package. It is a function,
// not a package variable, so no caller can change it for everyone else.
func GroupVersion() schema.GroupVersion {
	return schema.GroupVersion{Group: Group, Version: Version}
}

// AddToScheme registers the types of this package with a runtime.Scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion(), &RedisHA{}, &RedisHAList{}, &XRedisHA{}, &XRedisHAList{})
	return nil
}
