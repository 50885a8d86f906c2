// Package signing is a placeholder doc; replaced below.
package signing
