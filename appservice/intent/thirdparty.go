package intent

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/mxkit/mxkit/appservice"
	"github.com/mxkit/mxkit/internal/mxerr"
)

var _ appservice.ThirdPartyService = (*AppService)(nil)

func (a *AppService) thirdParty() (*appservice.ThirdParty, error) {
	if a.ThirdParty == nil {
		return nil, mxerr.New(http.StatusNotFound, mxerr.Unrecognized, "third-party lookups are not supported by this application service")
	}
	return a.ThirdParty, nil
}

// ThirdPartyProtocol implements appservice.ThirdPartyService with
// a.ThirdParty.
func (a *AppService) ThirdPartyProtocol(ctx context.Context, protocol string) (json.RawMessage, error) {
	tp, err := a.thirdParty()
	if err != nil {
		return nil, err
	}
	return tp.ThirdPartyProtocol(ctx, protocol)
}

// ThirdPartyUsers implements appservice.ThirdPartyService with a.ThirdParty.
func (a *AppService) ThirdPartyUsers(ctx context.Context, protocol string, fields url.Values) (json.RawMessage, error) {
	tp, err := a.thirdParty()
	if err != nil {
		return nil, err
	}
	return tp.ThirdPartyUsers(ctx, protocol, fields)
}

// ThirdPartyLocations implements appservice.ThirdPartyService with
// a.ThirdParty.
func (a *AppService) ThirdPartyLocations(ctx context.Context, protocol string, fields url.Values) (json.RawMessage, error) {
	tp, err := a.thirdParty()
	if err != nil {
		return nil, err
	}
	return tp.ThirdPartyLocations(ctx, protocol, fields)
}

// ThirdPartyUsersByID implements appservice.ThirdPartyService with
// a.ThirdParty.
func (a *AppService) ThirdPartyUsersByID(ctx context.Context, userID string) (json.RawMessage, error) {
	tp, err := a.thirdParty()
	if err != nil {
		return nil, err
	}
	return tp.ThirdPartyUsersByID(ctx, userID)
}

// ThirdPartyLocationsByAlias implements appservice.ThirdPartyService with
// a.ThirdParty.
func (a *AppService) ThirdPartyLocationsByAlias(ctx context.Context, alias string) (json.RawMessage, error) {
	tp, err := a.thirdParty()
	if err != nil {
		return nil, err
	}
	return tp.ThirdPartyLocationsByAlias(ctx, alias)
}
