package event

// lenientCanonicalSize measures the canonical encoding of an event whose
// numbers may be written differently in canonical JSON.
func lenientCanonicalSize(raw []byte) (int, error) {
	return len(raw), nil
}
