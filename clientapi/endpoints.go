package clientapi

import "sort"

// Endpoint is a method and path pattern the Server routes, in
// net/http.ServeMux syntax (e.g. "/_matrix/client/v3/rooms/{roomId}/state").
type Endpoint struct {
	Method, Pattern string
}

// Endpoints returns every endpoint the Server routes, sorted by pattern
// and method, whether or not the backend it needs is set (one without
// answers 404 M_UNRECOGNIZED).
func (s *Server) Endpoints() []Endpoint {
	s.once.Do(s.init)
	return s.endpoints()
}

func (s *Server) endpoints() []Endpoint {
	var out []Endpoint
	for pat, byMethod := range s.table {
		for m := range byMethod {
			out = append(out, Endpoint{m, pat})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pattern != out[j].Pattern {
			return out[i].Pattern < out[j].Pattern
		}
		return out[i].Method < out[j].Method
	})
	return out
}
