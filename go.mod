module github.com/mxkit/mxkit

go 1.26
