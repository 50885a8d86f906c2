package clientapi

import "errors"

// Support is what GET /.well-known/matrix/support says
// (content/client-server-api/_index.md "Getting the support information";
// data/api/client-server/support.yaml): whom to contact about the server.
type Support struct {
	Contacts    []SupportContact `json:"contacts,omitempty"`
	SupportPage string           `json:"support_page,omitempty"`
}

// SupportContact is one contact; at least one of MatrixID and
// EmailAddress is set. Role is "m.role.admin", "m.role.security" or a
// namespaced role.
type SupportContact struct {
	MatrixID     string `json:"matrix_id,omitempty"`
	EmailAddress string `json:"email_address,omitempty"`
	Role         string `json:"role"`
}

// Validate checks the rules of the response: a contact or a support page,
// and each contact with a role and a way to reach it.
func (s *Support) Validate() error {
	if len(s.Contacts) == 0 && s.SupportPage == "" {
		return errors.New("support: needs contacts or a support page")
	}
	for _, c := range s.Contacts {
		if c.Role == "" {
			return errors.New("support: a contact without a role")
		}
		if c.MatrixID == "" && c.EmailAddress == "" {
			return errors.New("support: a contact without matrix_id or email_address")
		}
		if c.MatrixID != "" {
			if err := ValidUserID(c.MatrixID, false); err != nil {
				return errors.New("support: contact " + c.MatrixID + ": not a user ID")
			}
		}
	}
	return nil
}

func (c *call) support() (any, error) {
	if c.s.Support == nil {
		return nil, NotFound("no support information")
	}
	return c.s.Support, nil
}
