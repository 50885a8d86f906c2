package clientapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// The filter objects of data/api/client-server/definitions/sync_filter.yaml,
// event_filter.yaml and room_event_filter.yaml, used
// only to check the types of a filter a client uploads or passes inline;
// the backend receives the filter's raw JSON.
type eventFilterTypes struct {
	Limit      *int     `json:"limit"`
	NotSenders []string `json:"not_senders"`
	NotTypes   []string `json:"not_types"`
	Senders    []string `json:"senders"`
	Types      []string `json:"types"`
}

type roomEventFilterTypes struct {
	eventFilterTypes
	LazyLoadMembers           *bool    `json:"lazy_load_members"`
	IncludeRedundantMembers   *bool    `json:"include_redundant_members"`
	NotRooms                  []string `json:"not_rooms"`
	Rooms                     []string `json:"rooms"`
	ContainsURL               *bool    `json:"contains_url"`
	UnreadThreadNotifications *bool    `json:"unread_thread_notifications"`
}

type filterTypes struct {
	EventFields []string          `json:"event_fields"`
	EventFormat *string           `json:"event_format"`
	Presence    *eventFilterTypes `json:"presence"`
	AccountData *eventFilterTypes `json:"account_data"`
	Room        *struct {
		NotRooms     []string              `json:"not_rooms"`
		Rooms        []string              `json:"rooms"`
		Ephemeral    *roomEventFilterTypes `json:"ephemeral"`
		IncludeLeave *bool                 `json:"include_leave"`
		State        *roomEventFilterTypes `json:"state"`
		Timeline     *roomEventFilterTypes `json:"timeline"`
		AccountData  *roomEventFilterTypes `json:"account_data"`
	} `json:"room"`
}

// ValidateFilter checks that raw is a filter object whose known fields
// have the types of the spec's Filter ("Filtering"); unknown fields are
// allowed. A wrong type is 400 M_BAD_JSON naming the field, as the
// reference server answers.
func ValidateFilter(raw []byte) error {
	if !isObject(raw) {
		return NewError(http.StatusBadRequest, CodeNotJSON, "filter is not a JSON object")
	}
	var f filterTypes
	if err := json.Unmarshal(raw, &f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return BadJSON(fmt.Sprintf("filter field %q: expected %s, got JSON %s", te.Field, te.Type, te.Value))
		}
		return BadJSON("filter: " + err.Error())
	}
	if f.EventFormat != nil && *f.EventFormat != "client" && *f.EventFormat != "federation" {
		return BadJSON("filter event_format must be client or federation")
	}
	limits := []*eventFilterTypes{f.Presence, f.AccountData}
	if f.Room != nil {
		for _, r := range []*roomEventFilterTypes{f.Room.Ephemeral, f.Room.State, f.Room.Timeline, f.Room.AccountData} {
			if r != nil {
				limits = append(limits, &r.eventFilterTypes)
			}
		}
	}
	for _, l := range limits {
		if l != nil && l.Limit != nil && *l.Limit < 0 {
			return BadJSON("filter limit must not be negative")
		}
	}
	return nil
}
