module github.com/mxkit/mxkit/interop

go 1.26.0

replace github.com/mxkit/mxkit => ../

require github.com/mxkit/mxkit v0.0.0-00010101000000-000000000000
