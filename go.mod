module github.com/fsnap/fsnap

go 1.26
