module github.com/fsnap/fsnap

go 1.26.0

require (
	github.com/twmb/murmur3 v1.2.2 // indirect
	gocloud.dev v0.47.0 // indirect
)
