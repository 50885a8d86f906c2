package event

// ID returns the event ID: the event's own event_id in room versions 1
// and 2 (or the ID given to ParseWithID).
func (e *Event) ID() string {
	return e.id
}
