module github.com/redis-ha/redis-ha

go 1.26

require github.com/google/go-cmp v0.7.0
