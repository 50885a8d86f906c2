package stateres

// SetFullWalk makes the v2 auth walk go below unconflicted events too
// (tests compare the results both ways); it returns a function that
// restores the default.
func SetFullWalk() (restore func()) {
	fullWalk = true
	return func() { fullWalk = false }
}
