module github.com/redis-ha/redis-ha

go 1.26
