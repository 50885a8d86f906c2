package clientapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type addFunc func(prefixes []string, method, path string, auth authMode, h handlerFunc)

// routes lists every endpoint. Paths are those of data/api/client-server
// (r0 and v3 for the endpoints that existed in r0, v1 for those the spec
// introduced under v1).
func (s *Server) routes(add addFunc) {
	L, V1 := legacyPrefixes, v1Prefixes
	add([]string{"/_matrix/client"}, "GET", "/versions", authNone, (*call).versions)
	add([]string{""}, "GET", "/.well-known/matrix/client", authNone, (*call).wellKnown)

	add(L, "GET", "/capabilities", authRequired, (*call).capabilities)
	add(L, "GET", "/login", authNone, (*call).loginFlows)
	add(L, "POST", "/login", authOptional, (*call).login)
	add(L, "POST", "/logout", authRequired, (*call).logout)
	add(L, "POST", "/logout/all", authRequired, (*call).logoutAll)
	add(L, "POST", "/register", authOptional, (*call).register)
	add(L, "GET", "/register/available", authNone, (*call).registerAvailable)
	add(L, "GET", "/account/whoami", authRequired, (*call).whoami)

	add(L, "POST", "/createRoom", authRequired, (*call).createRoom)
	add(L, "POST", "/join/{roomIdOrAlias}", authRequired, (*call).joinByIDOrAlias)
	add(L, "POST", "/rooms/{roomId}/join", authRequired, (*call).joinRoom)
	add(L, "POST", "/knock/{roomIdOrAlias}", authRequired, (*call).knock)
	for _, a := range []string{ActionInvite, ActionLeave, ActionKick, ActionBan, ActionUnban} {
		add(L, "POST", "/rooms/{roomId}/"+a, authRequired, membershipHandler(a))
	}
	add(L, "POST", "/rooms/{roomId}/forget", authRequired, (*call).forget)
	add(L, "GET", "/joined_rooms", authRequired, (*call).joinedRooms)

	add(L, "PUT", "/rooms/{roomId}/send/{eventType}/{txnId}", authRequired, (*call).send)
	add(L, "PUT", "/rooms/{roomId}/state/{eventType}", authRequired, (*call).putState)
	add(L, "PUT", "/rooms/{roomId}/state/{eventType}/{stateKey...}", authRequired, (*call).putState)
	add(L, "GET", "/rooms/{roomId}/state/{eventType}", authRequired, (*call).getState)
	add(L, "GET", "/rooms/{roomId}/state/{eventType}/{stateKey...}", authRequired, (*call).getState)
	add(L, "GET", "/rooms/{roomId}/state", authRequired, (*call).fullState)
	add(L, "PUT", "/rooms/{roomId}/redact/{eventId}/{txnId}", authRequired, (*call).redact)
	add(L, "GET", "/rooms/{roomId}/event/{eventId}", authRequired, (*call).event)
	add(L, "GET", "/rooms/{roomId}/members", authRequired, (*call).members)
	add(L, "GET", "/rooms/{roomId}/joined_members", authRequired, (*call).joinedMembers)
	add(L, "GET", "/rooms/{roomId}/messages", authRequired, (*call).messages)
	add(L, "GET", "/rooms/{roomId}/context/{eventId}", authRequired, (*call).context)

	add(L, "GET", "/sync", authRequired, (*call).sync)
	add(L, "POST", "/user/{userId}/filter", authRequired, (*call).putFilter)
	add(L, "GET", "/user/{userId}/filter/{filterId}", authRequired, (*call).getFilter)

	add(L, "PUT", "/directory/room/{roomAlias}", authRequired, (*call).putAlias)
	add(L, "GET", "/directory/room/{roomAlias}", authNone, (*call).getAlias)
	add(L, "DELETE", "/directory/room/{roomAlias}", authRequired, (*call).deleteAlias)
	add(L, "GET", "/rooms/{roomId}/aliases", authRequired, (*call).roomAliases)

	add(L, "GET", "/profile/{userId}", authNone, (*call).profile)
	for _, f := range []string{"displayname", "avatar_url"} {
		add(L, "GET", "/profile/{userId}/"+f, authNone, profileFieldGet(f))
		add(L, "PUT", "/profile/{userId}/"+f, authRequired, profileFieldPut(f))
		add(L, "DELETE", "/profile/{userId}/"+f, authRequired, profileFieldDelete(f))
	}

	add(L, "GET", "/user/{userId}/account_data/{type}", authRequired, (*call).getAccountData)
	add(L, "PUT", "/user/{userId}/account_data/{type}", authRequired, (*call).putAccountData)
	add(L, "GET", "/user/{userId}/rooms/{roomId}/account_data/{type}", authRequired, (*call).getAccountData)
	add(L, "PUT", "/user/{userId}/rooms/{roomId}/account_data/{type}", authRequired, (*call).putAccountData)

	add(L, "PUT", "/rooms/{roomId}/typing/{userId}", authRequired, (*call).typing)
	add(L, "POST", "/rooms/{roomId}/receipt/{receiptType}/{eventId}", authRequired, (*call).receipt)
	add(L, "POST", "/rooms/{roomId}/read_markers", authRequired, (*call).readMarkers)

	add(L, "GET", "/presence/{userId}/status", authRequired, (*call).getPresence)
	add(L, "PUT", "/presence/{userId}/status", authRequired, (*call).putPresence)
	add(L, "POST", "/user_directory/search", authRequired, (*call).userDirectorySearch)

	// Start-up calls of end-to-end encryption capable clients, answered
	// as a server without end-to-end encryption storage may.
	add(L, "POST", "/keys/upload", authRequired, (*call).keysUpload)
	add(L, "POST", "/keys/query", authRequired, (*call).keysQuery)

	add(L, "GET", "/voip/turnServer", authRequired, func(*call) (any, error) {
		// No TURN server configured: the reference server answers {}.
		return map[string]any{}, nil
	})
	add(V1, "GET", "/media/config", authRequired, (*call).mediaConfig)
	add([]string{"/_matrix/media/r0", "/_matrix/media/v3"}, "GET", "/config", authRequired, (*call).mediaConfig)
}

func (c *call) versions() (any, error) {
	v := c.s.Versions
	if v == nil {
		v = c.s.SupportedVersions()
	}
	uf := c.s.UnstableFeatures
	if uf == nil {
		uf = map[string]bool{}
	}
	return map[string]any{"versions": v, "unstable_features": uf}, nil
}

func (c *call) wellKnown() (any, error) {
	if c.s.BaseURL == "" {
		return nil, NotFound("no client well-known information")
	}
	m := map[string]any{}
	for k, v := range c.s.WellKnownExtra {
		m[k] = v
	}
	m["m.homeserver"] = map[string]string{"base_url": c.s.BaseURL}
	return m, nil
}

func (c *call) capabilities() (any, error) {
	avail := map[string]string{}
	for _, v := range c.roomVersions().Known() {
		if v.Stable {
			avail[v.ID] = "stable"
		} else {
			avail[v.ID] = "unstable"
		}
	}
	return map[string]any{"capabilities": map[string]any{
		"m.room_versions":   map[string]any{"default": c.defaultRoomVersion(), "available": avail},
		"m.change_password": map[string]bool{"enabled": false},
		"m.set_displayname": map[string]bool{"enabled": c.s.Profile != nil},
		"m.set_avatar_url":  map[string]bool{"enabled": c.s.Profile != nil},
		"m.3pid_changes":    map[string]bool{"enabled": false},
	}}, nil
}

// ---- accounts ----

func (c *call) loginFlows() (any, error) {
	flows := []map[string]string{}
	if c.s.Accounts != nil {
		flows = append(flows, map[string]string{"type": AuthTypePassword}, map[string]string{"type": AuthTypeAppService})
	}
	out := []any{}
	for _, f := range flows {
		out = append(out, f)
	}
	if c.s.Accounts != nil && c.s.LoginTokens != nil {
		// get_login_token: the server lets a logged-in client make one
		// (POST /login/get_token, v1.7).
		out = append(out, map[string]any{"type": AuthTypeToken, "get_login_token": true})
	}
	return map[string]any{"flows": out}, nil
}

type loginBody struct {
	Type                     string          `json:"type"`
	Identifier               json.RawMessage `json:"identifier"`
	User                     string          `json:"user"`
	Password                 string          `json:"password"`
	Token                    string          `json:"token"`
	DeviceID                 string          `json:"device_id"`
	InitialDeviceDisplayName string          `json:"initial_device_display_name"`
	RefreshToken             bool            `json:"refresh_token"`
}

func (c *call) login() (any, error) {
	if err := need(c.s.Accounts != nil); err != nil {
		return nil, err
	}
	var b loginBody
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	userID, idErr := identifierUser(b.Identifier, b.User, c.s.ServerName)
	appService := ""
	switch b.Type {
	case AuthTypePassword:
		if idErr != nil {
			return nil, idErr
		}
		if ServerNameOf(userID) != c.s.ServerName {
			return nil, Forbidden("invalid username or password")
		}
		if err := c.s.Accounts.CheckPassword(c.ctx, userID, b.Password); err != nil {
			return nil, err
		}
	case AuthTypeAppService:
		// content/application-service-api.md "Server admin style
		// permissions": the as_token authenticates (401 M_MISSING_TOKEN
		// or M_UNKNOWN_TOKEN without a valid one) and the identifier
		// names a user of the service's namespace (the backend answers
		// M_EXCLUSIVE otherwise).
		if idErr != nil {
			return nil, idErr
		}
		who, err := c.s.authenticate(c.r)
		if err != nil {
			return nil, err
		}
		if who.AppService == "" {
			return nil, UnknownToken(false)
		}
		appService = who.AppService
	case AuthTypeToken:
		if c.s.LoginTokens == nil {
			return nil, NewError(http.StatusBadRequest, CodeUnknown, "unknown login type "+quote(b.Type))
		}
		if b.Token == "" {
			return nil, MissingParam("token is required")
		}
		var err error
		if userID, err = c.s.LoginTokens.ConsumeLoginToken(c.ctx, b.Token); err != nil {
			return nil, err
		}
	case "":
		return nil, BadJSON("missing login type")
	default:
		return nil, NewError(http.StatusBadRequest, CodeUnknown, "unknown login type "+quote(b.Type))
	}
	creds, err := c.s.Accounts.Login(c.ctx, LoginRequest{UserID: userID, DeviceID: b.DeviceID,
		InitialDisplayName: b.InitialDeviceDisplayName, AppService: appService, RefreshToken: b.RefreshToken})
	if err != nil {
		return nil, err
	}
	return loginResponse(creds, c.s.ServerName), nil
}

func loginResponse(cr Credentials, serverName string) map[string]any {
	m := map[string]any{"user_id": cr.UserID, "access_token": cr.AccessToken, "device_id": cr.DeviceID,
		"home_server": serverName}
	if cr.RefreshToken != "" {
		m["refresh_token"] = cr.RefreshToken
	}
	if cr.ExpiresInMS > 0 {
		m["expires_in_ms"] = cr.ExpiresInMS
	}
	return m
}

func (c *call) logout() (any, error) {
	if err := need(c.s.Accounts != nil); err != nil {
		return nil, err
	}
	return struct{}{}, c.s.Accounts.Logout(c.ctx, c.who)
}

func (c *call) logoutAll() (any, error) {
	if err := need(c.s.Accounts != nil); err != nil {
		return nil, err
	}
	return struct{}{}, c.s.Accounts.LogoutAll(c.ctx, c.who.UserID)
}

func (c *call) whoami() (any, error) {
	m := map[string]any{"user_id": c.who.UserID, "is_guest": c.who.IsGuest}
	if c.who.DeviceID != "" {
		m["device_id"] = c.who.DeviceID
	}
	return m, nil
}

type registerBody struct {
	Auth                     json.RawMessage `json:"auth"`
	Type                     string          `json:"type"`
	Username                 string          `json:"username"`
	Password                 string          `json:"password"`
	DeviceID                 string          `json:"device_id"`
	InitialDeviceDisplayName string          `json:"initial_device_display_name"`
	InhibitLogin             bool            `json:"inhibit_login"`
	RefreshToken             bool            `json:"refresh_token"`
}

// register implements POST /register with a single UIA flow of
// m.login.dummy; application services register with the type
// m.login.application_service and their token. Guests are refused (403
// M_GUEST_ACCESS_FORBIDDEN is not what the spec names for kind=guest on a
// server without guests; the reference server answers 403 M_FORBIDDEN).
func (c *call) register() (any, error) {
	if err := need(c.s.Accounts != nil); err != nil {
		return nil, err
	}
	switch kind := c.r.URL.Query().Get("kind"); kind {
	case "", "user":
	case "guest":
		return nil, Forbidden("guest access is disabled")
	default:
		return nil, InvalidParam("kind must be user or guest")
	}
	if c.s.Registration == nil {
		return nil, Forbidden("registration is disabled")
	}
	var b registerBody
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	appService := ""
	if b.Type == AuthTypeAppService || c.who.AppService != "" {
		if c.who.AppService == "" {
			// content/application-service-api.md "Server admin style
			// permissions": 401 M_MISSING_TOKEN or M_UNKNOWN_TOKEN.
			if c.who.UserID == "" {
				return nil, errMissingToken
			}
			return nil, UnknownToken(false)
		}
		appService = c.who.AppService
		if b.Username == "" {
			return nil, MissingParam("username is required for application service registration")
		}
	} else if !c.s.AllowRegistration {
		return nil, Forbidden("registration is disabled")
	}
	var localpart string
	if b.Username != "" {
		localpart = b.Username
		if err := ValidLocalpart(localpart); err != nil {
			return nil, NewError(http.StatusBadRequest, CodeInvalidUsername, "username may contain only a-z 0-9 . _ = - / +")
		}
		if len("@"+localpart+":"+c.s.ServerName) > MaxIDLength {
			return nil, NewError(http.StatusBadRequest, CodeInvalidUsername, "user ID would be longer than 255 bytes")
		}
		ok, err := c.s.Registration.Available(c.ctx, localpart)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, NewError(http.StatusBadRequest, CodeUserInUse, "user ID already taken")
		}
	}
	var stages map[string]string
	if appService == "" {
		var err error
		if stages, err = c.s.uia.CheckStages(c.ctx, b.Auth, c.s.registrationUIA()); err != nil {
			return nil, err
		}
	}
	if localpart == "" {
		for range 8 {
			l := randomID(12)
			ok, err := c.s.Registration.Available(c.ctx, l)
			if err != nil {
				return nil, err
			}
			if ok {
				localpart = l
				break
			}
		}
		if localpart == "" {
			return nil, NewError(http.StatusInternalServerError, CodeUnknown, "could not pick a free user ID")
		}
	}
	userID := "@" + localpart + ":" + c.s.ServerName
	if appService == "" {
		if err := c.s.useRegistrationToken(c.ctx, stages); err != nil {
			return nil, err
		}
	}
	if err := c.s.Registration.Register(c.ctx, userID, b.Password, appService); err != nil {
		return nil, err
	}
	if b.InhibitLogin {
		return map[string]any{"user_id": userID, "home_server": c.s.ServerName}, nil
	}
	creds, err := c.s.Accounts.Login(c.ctx, LoginRequest{UserID: userID, DeviceID: b.DeviceID,
		InitialDisplayName: b.InitialDeviceDisplayName, AppService: appService, RefreshToken: b.RefreshToken})
	if err != nil {
		return nil, err
	}
	return loginResponse(creds, c.s.ServerName), nil
}

func (c *call) registerAvailable() (any, error) {
	if c.s.Registration == nil {
		return nil, Forbidden("registration is disabled")
	}
	l := c.r.URL.Query().Get("username")
	if l == "" {
		return nil, MissingParam("username is required")
	}
	if err := ValidLocalpart(l); err != nil {
		return nil, NewError(http.StatusBadRequest, CodeInvalidUsername, "username may contain only a-z 0-9 . _ = - / +")
	}
	ok, err := c.s.Registration.Available(c.ctx, l)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, NewError(http.StatusBadRequest, CodeUserInUse, "user ID already taken")
	}
	return map[string]bool{"available": true}, nil
}

// ---- rooms ----

func (c *call) createRoom() (any, error) {
	if err := need(c.s.Rooms != nil); err != nil {
		return nil, err
	}
	var req CreateRoomRequest
	if err := c.decode(&req, false); err != nil {
		return nil, err
	}
	plan, err := PlanCreateRoom(&req, c.who.UserID, c.s.ServerName, c.roomVersions(), c.defaultRoomVersion())
	if err != nil {
		return nil, err
	}
	roomID, err := c.s.Rooms.CreateRoom(c.ctx, c.who, plan)
	if err != nil {
		return nil, err
	}
	return map[string]string{"room_id": roomID}, nil
}

type reasonBody struct {
	Reason           string          `json:"reason"`
	UserID           string          `json:"user_id"`
	ThirdPartySigned json.RawMessage `json:"third_party_signed"`
}

func (c *call) via() ([]string, error) {
	q := c.r.URL.Query()
	via := append(q["via"], q["server_name"]...)
	for _, s := range via {
		if err := ValidServerName(s); err != nil {
			return nil, paramError(err)
		}
	}
	return via, nil
}

// roomIDOrAliasParam reads the roomIdOrAlias path parameter of join and
// knock: a room alias when it starts with '#', a room ID otherwise.
func (c *call) roomIDOrAliasParam() (string, error) {
	id := c.r.PathValue("roomIdOrAlias")
	if strings.HasPrefix(id, "#") {
		if err := ValidRoomAlias(id); err != nil {
			return "", paramError(err)
		}
	} else if err := ValidRoomID(id); err != nil {
		return "", paramError(err)
	}
	return id, nil
}

func (c *call) joinByIDOrAlias() (any, error) {
	id, err := c.roomIDOrAliasParam()
	if err != nil {
		return nil, err
	}
	return c.join(id)
}

func (c *call) joinRoom() (any, error) {
	id, err := c.roomIDParam("roomId")
	if err != nil {
		return nil, err
	}
	return c.join(id)
}

func (c *call) join(id string) (any, error) {
	if err := need(c.s.Rooms != nil); err != nil {
		return nil, err
	}
	var b reasonBody
	if err := c.decode(&b, true); err != nil {
		return nil, err
	}
	via, err := c.via()
	if err != nil {
		return nil, err
	}
	roomID, err := c.s.Rooms.Join(c.ctx, c.who, JoinRequest{RoomIDOrAlias: id, Via: via, Reason: b.Reason, ThirdPartySigned: b.ThirdPartySigned})
	if err != nil {
		return nil, err
	}
	return map[string]string{"room_id": roomID}, nil
}

func (c *call) knock() (any, error) {
	if err := need(c.s.Rooms != nil); err != nil {
		return nil, err
	}
	id, err := c.roomIDOrAliasParam()
	if err != nil {
		return nil, err
	}
	var b reasonBody
	if err := c.decode(&b, true); err != nil {
		return nil, err
	}
	via, err := c.via()
	if err != nil {
		return nil, err
	}
	roomID, err := c.s.Rooms.ChangeMembership(c.ctx, c.who, MembershipRequest{Action: ActionKnock, RoomID: id, Target: c.who.UserID, Reason: b.Reason, Via: via})
	if err != nil {
		return nil, err
	}
	return map[string]string{"room_id": roomID}, nil
}

func membershipHandler(action string) handlerFunc {
	return func(c *call) (any, error) {
		roomID, err := c.room(c.s.Rooms != nil)
		if err != nil {
			return nil, err
		}
		var b reasonBody
		if err := c.decode(&b, action == ActionLeave); err != nil {
			return nil, err
		}
		target := c.who.UserID
		if action != ActionLeave {
			if b.UserID == "" {
				if len(b.ThirdPartySigned) > 0 || action != ActionInvite {
					return nil, MissingParam("user_id is required")
				}
				return nil, MissingParam("user_id is required (third-party invites are not supported)")
			}
			if err := ValidUserID(b.UserID, true); err != nil {
				return nil, paramError(err)
			}
			target = b.UserID
		}
		_, err = c.s.Rooms.ChangeMembership(c.ctx, c.who, MembershipRequest{Action: action, RoomID: roomID, Target: target, Reason: b.Reason})
		if err != nil {
			return nil, err
		}
		return struct{}{}, nil
	}
}

func (c *call) forget() (any, error) {
	roomID, err := c.room(c.s.Rooms != nil)
	if err != nil {
		return nil, err
	}
	return struct{}{}, c.s.Rooms.Forget(c.ctx, c.who, roomID)
}

func (c *call) joinedRooms() (any, error) {
	if err := need(c.s.Rooms != nil); err != nil {
		return nil, err
	}
	rooms, err := c.s.Rooms.JoinedRooms(c.ctx, c.who)
	if err != nil {
		return nil, err
	}
	if rooms == nil {
		rooms = []string{}
	}
	return map[string][]string{"joined_rooms": rooms}, nil
}

// ---- sending ----

// transact runs f once per (device, endpoint, txnId) and replays its
// answer for retransmissions.
func (c *call) transact(endpoint string, f func() (any, error)) (any, error) {
	txnID := c.r.PathValue("txnId")
	if txnID == "" {
		return nil, MissingParam("txnId is required")
	}
	dev := c.who.DeviceID
	if dev == "" && c.who.AppService != "" {
		dev = "as:" + c.who.AppService
	}
	key := TxnKey{UserID: c.who.UserID, DeviceID: dev, Endpoint: endpoint, TxnID: txnID}
	unlock := txnLocks.lock(key)
	defer unlock()
	if body, ok, err := c.s.txns.Get(c.ctx, key); err != nil {
		return nil, err
	} else if ok {
		return rawResponse(body), nil
	}
	res, err := f()
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	if err := c.s.txns.Put(c.ctx, key, body); err != nil {
		return nil, err
	}
	return rawResponse(body), nil
}

func (c *call) timestamp() (int64, error) {
	ts := c.r.URL.Query().Get("ts")
	if ts == "" {
		return 0, nil
	}
	if c.who.AppService == "" {
		// Only application services may set the timestamp; others are
		// ignored as the reference server ignores them.
		return 0, nil
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n < 0 {
		return 0, InvalidParam("ts must be a non-negative integer")
	}
	return n, nil
}

func (c *call) send() (any, error) {
	roomID, err := c.room(c.s.Sender != nil)
	if err != nil {
		return nil, err
	}
	typ, err := c.eventTypeParam("eventType")
	if err != nil {
		return nil, err
	}
	content, err := c.eventContent()
	if err != nil {
		return nil, err
	}
	ts, err := c.timestamp()
	if err != nil {
		return nil, err
	}
	ev := OutgoingEvent{RoomID: roomID, Type: typ, Content: content, TxnID: c.r.PathValue("txnId"), Timestamp: ts}
	if typ == "m.room.redaction" {
		var r struct {
			Redacts string `json:"redacts"`
		}
		json.Unmarshal(content, &r)
		ev.Redacts = r.Redacts
	}
	return c.transact("send/"+roomID+"/"+typ, func() (any, error) {
		id, err := c.s.Sender.Send(c.ctx, c.who, ev)
		if err != nil {
			return nil, err
		}
		return map[string]string{"event_id": id}, nil
	})
}

func (c *call) redact() (any, error) {
	roomID, eventID, err := c.roomEvent(c.s.Sender != nil)
	if err != nil {
		return nil, err
	}
	if len(c.body) > MaxEventSize {
		return nil, NewError(http.StatusRequestEntityTooLarge, CodeTooLarge, "redaction is larger than the event size limit")
	}
	var b struct {
		Reason *string `json:"reason"`
	}
	if err := c.decode(&b, true); err != nil {
		return nil, err
	}
	content := map[string]any{}
	if b.Reason != nil {
		content["reason"] = *b.Reason
	}
	// ts is honoured only on send and state
	// (content/application-service-api.md "Timestamp massaging").
	ev := OutgoingEvent{RoomID: roomID, Type: "m.room.redaction", Content: mustJSON(content), Redacts: eventID, TxnID: c.r.PathValue("txnId")}
	return c.transact("redact/"+roomID+"/"+eventID, func() (any, error) {
		id, err := c.s.Sender.Send(c.ctx, c.who, ev)
		if err != nil {
			return nil, err
		}
		return map[string]string{"event_id": id}, nil
	})
}

func (c *call) stateKeyParam() (string, string, error) {
	typ, err := c.eventTypeParam("eventType")
	if err != nil {
		return "", "", err
	}
	sk := c.r.PathValue("stateKey")
	if err := ValidStateKey(sk); err != nil {
		return "", "", paramError(err)
	}
	return typ, sk, nil
}

func (c *call) putState() (any, error) {
	roomID, err := c.room(c.s.Sender != nil)
	if err != nil {
		return nil, err
	}
	typ, sk, err := c.stateKeyParam()
	if err != nil {
		return nil, err
	}
	content, err := c.eventContent()
	if err != nil {
		return nil, err
	}
	ts, err := c.timestamp()
	if err != nil {
		return nil, err
	}
	id, err := c.s.Sender.Send(c.ctx, c.who, OutgoingEvent{RoomID: roomID, Type: typ, StateKey: &sk, Content: content, Timestamp: ts})
	if err != nil {
		return nil, err
	}
	return map[string]string{"event_id": id}, nil
}

// ---- reading ----

func (c *call) getState() (any, error) {
	roomID, err := c.room(c.s.Reader != nil)
	if err != nil {
		return nil, err
	}
	typ, sk, err := c.stateKeyParam()
	if err != nil {
		return nil, err
	}
	format := c.r.URL.Query().Get("format")
	if format != "" && format != "content" && format != "event" {
		return nil, InvalidParam("format must be content or event")
	}
	evs, err := c.s.Reader.State(c.ctx, c.who, roomID, &StateKey{typ, sk})
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, NotFound("event not found")
	}
	if format == "event" {
		return evs[0], nil
	}
	var e struct {
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(evs[0], &e); err != nil || !isObject(e.Content) {
		return nil, fmt.Errorf("clientapi: backend state event without content object")
	}
	return e.Content, nil
}

func (c *call) fullState() (any, error) {
	roomID, err := c.room(c.s.Reader != nil)
	if err != nil {
		return nil, err
	}
	evs, err := c.s.Reader.State(c.ctx, c.who, roomID, nil)
	if err != nil {
		return nil, err
	}
	return nonNil(evs), nil
}

func (c *call) event() (any, error) {
	roomID, eventID, err := c.roomEvent(c.s.Reader != nil)
	if err != nil {
		return nil, err
	}
	ev, err := c.s.Reader.Event(c.ctx, c.who, roomID, eventID)
	if err == nil && !isObject(ev) {
		err = errNoAnswer
	}
	return ev, err
}

var memberships = map[string]bool{"join": true, "invite": true, "knock": true, "leave": true, "ban": true}

func (c *call) members() (any, error) {
	roomID, err := c.room(c.s.Reader != nil)
	if err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	req := MembersRequest{RoomID: roomID, At: q.Get("at"), Membership: q.Get("membership"), NotMembership: q.Get("not_membership")}
	for _, m := range []string{req.Membership, req.NotMembership} {
		if m != "" && !memberships[m] {
			return nil, InvalidParam("unknown membership " + quote(m))
		}
	}
	evs, err := c.s.Reader.Members(c.ctx, c.who, req)
	if err != nil {
		return nil, err
	}
	return map[string]EventList{"chunk": nonNil(evs)}, nil
}

func (c *call) joinedMembers() (any, error) {
	roomID, err := c.room(c.s.Reader != nil)
	if err != nil {
		return nil, err
	}
	evs, err := c.s.Reader.Members(c.ctx, c.who, MembersRequest{RoomID: roomID, Membership: "join", Joined: true})
	if err != nil {
		return nil, err
	}
	type member struct {
		DisplayName *string `json:"display_name"`
		AvatarURL   *string `json:"avatar_url"`
	}
	joined := map[string]member{}
	for _, raw := range evs {
		var e struct {
			StateKey string `json:"state_key"`
			Content  struct {
				Membership  string  `json:"membership"`
				DisplayName *string `json:"displayname"`
				AvatarURL   *string `json:"avatar_url"`
			} `json:"content"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Content.Membership != "join" {
			continue
		}
		joined[e.StateKey] = member{e.Content.DisplayName, e.Content.AvatarURL}
	}
	return map[string]any{"joined": joined}, nil
}

func (c *call) limit(def, max int) (int, error) {
	l := c.r.URL.Query().Get("limit")
	if l == "" {
		return def, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 0 {
		return 0, InvalidParam("limit must be a non-negative integer")
	}
	return min(n, max), nil
}

func (c *call) filterParam() (json.RawMessage, error) {
	f := c.r.URL.Query().Get("filter")
	if f == "" {
		return nil, nil
	}
	var rf roomEventFilterTypes
	if !isObject(json.RawMessage(f)) {
		return nil, NewError(http.StatusBadRequest, CodeNotJSON, "filter parameter is not a JSON object")
	}
	if err := json.Unmarshal([]byte(f), &rf); err != nil {
		return nil, BadJSON("filter parameter is not a RoomEventFilter: " + err.Error())
	}
	return json.RawMessage(f), nil
}

func (c *call) messages() (any, error) {
	roomID, err := c.room(c.s.Reader != nil)
	if err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	req := MessagesRequest{RoomID: roomID, From: q.Get("from"), To: q.Get("to"), Dir: q.Get("dir")}
	switch req.Dir {
	case "b", "f":
	case "":
		return nil, MissingParam("dir is required")
	default:
		return nil, InvalidParam("dir must be b or f")
	}
	if req.Limit, err = c.limit(10, 1000); err != nil {
		return nil, err
	}
	if req.Filter, err = c.filterParam(); err != nil {
		return nil, err
	}
	resp, err := c.s.Reader.Messages(c.ctx, c.who, req)
	if err == nil && resp == nil {
		err = errNoAnswer
	}
	return resp, err
}

func (c *call) context() (any, error) {
	roomID, eventID, err := c.roomEvent(c.s.Reader != nil)
	if err != nil {
		return nil, err
	}
	req := ContextRequest{RoomID: roomID, EventID: eventID}
	if req.Limit, err = c.limit(10, 100); err != nil {
		return nil, err
	}
	if req.Filter, err = c.filterParam(); err != nil {
		return nil, err
	}
	resp, err := c.s.Reader.Context(c.ctx, c.who, req)
	if err == nil && resp == nil {
		err = errNoAnswer
	}
	return resp, err
}

// errNoAnswer is a backend that returned neither a response nor an
// error: a 500, never a panic.
var errNoAnswer = errors.New("clientapi: backend returned no response and no error")

// ---- filters ----

func (c *call) putFilter() (any, error) {
	if err := c.selfParam("userId", "create filters"); err != nil {
		return nil, err
	}
	b, err := c.object(false)
	if err != nil {
		return nil, err
	}
	if err := ValidateFilter(b); err != nil {
		return nil, err
	}
	id, err := c.s.filters.PutFilter(c.ctx, c.who.UserID, json.RawMessage(b))
	if err != nil {
		return nil, err
	}
	return map[string]string{"filter_id": id}, nil
}

func (c *call) getFilter() (any, error) {
	if err := c.selfParam("userId", "read filters"); err != nil {
		return nil, err
	}
	return c.s.filters.GetFilter(c.ctx, c.who.UserID, c.r.PathValue("filterId"))
}

// ---- directory ----

// directoryAlias is the preamble of the /directory/room/{roomAlias}
// handlers: the Directory backend must be configured, then the path
// parameter must be a valid room alias.
func (c *call) directoryAlias() (string, error) {
	if err := need(c.s.Directory != nil); err != nil {
		return "", err
	}
	a := c.r.PathValue("roomAlias")
	if err := ValidRoomAlias(a); err != nil {
		return "", paramError(err)
	}
	return a, nil
}

func (c *call) putAlias() (any, error) {
	alias, err := c.directoryAlias()
	if err != nil {
		return nil, err
	}
	var b struct {
		RoomID string `json:"room_id"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	if b.RoomID == "" {
		return nil, MissingParam("room_id is required")
	}
	if err := ValidRoomID(b.RoomID); err != nil {
		return nil, paramError(err)
	}
	if ServerNameOf(alias) != c.s.ServerName {
		return nil, InvalidParam("room alias must be on this server")
	}
	return struct{}{}, c.s.Directory.SetAlias(c.ctx, c.who, alias, b.RoomID)
}

func (c *call) getAlias() (any, error) {
	alias, err := c.directoryAlias()
	if err != nil {
		return nil, err
	}
	roomID, servers, err := c.s.Directory.ResolveAlias(c.ctx, alias)
	if err != nil {
		return nil, err
	}
	if servers == nil {
		servers = []string{}
	}
	return map[string]any{"room_id": roomID, "servers": servers}, nil
}

func (c *call) deleteAlias() (any, error) {
	alias, err := c.directoryAlias()
	if err != nil {
		return nil, err
	}
	return struct{}{}, c.s.Directory.DeleteAlias(c.ctx, c.who, alias)
}

func (c *call) roomAliases() (any, error) {
	roomID, err := c.room(c.s.Directory != nil)
	if err != nil {
		return nil, err
	}
	aliases, err := c.s.Directory.RoomAliases(c.ctx, c.who, roomID)
	if err != nil {
		return nil, err
	}
	if aliases == nil {
		aliases = []string{}
	}
	return map[string][]string{"aliases": aliases}, nil
}

// ---- profile ----

// profileUser is the preamble of the profile readers: the Profile
// backend must be configured, then userId must be a valid user ID.
func (c *call) profileUser() (string, error) {
	if err := need(c.s.Profile != nil); err != nil {
		return "", err
	}
	return c.userIDParam("userId")
}

func (c *call) profile() (any, error) {
	userID, err := c.profileUser()
	if err != nil {
		return nil, err
	}
	p, err := c.s.Profile.Profile(c.ctx, userID)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = map[string]any{}
	}
	return p, nil
}

func profileFieldGet(field string) handlerFunc {
	return func(c *call) (any, error) {
		userID, err := c.profileUser()
		if err != nil {
			return nil, err
		}
		p, err := c.s.Profile.Profile(c.ctx, userID)
		if err != nil {
			return nil, err
		}
		v, ok := p[field]
		if !ok || v == nil {
			return nil, NotFound("profile field " + field + " is not set")
		}
		return map[string]any{field: v}, nil
	}
}

// profileLimits are the reference server's limits on profile fields.
var profileLimits = map[string]int{"displayname": 256, "avatar_url": 1000}

func profileFieldPut(field string) handlerFunc {
	return func(c *call) (any, error) {
		if err := need(c.s.Profile != nil); err != nil {
			return nil, err
		}
		if err := c.selfParam("userId", "set the profile"); err != nil {
			return nil, err
		}
		var b map[string]json.RawMessage
		if err := c.decode(&b, false); err != nil {
			return nil, err
		}
		raw, ok := b[field]
		if !ok {
			return nil, MissingParam(field + " is required")
		}
		var v *string
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, BadJSON(field + " must be a string")
		}
		if v != nil && len(*v) > profileLimits[field] {
			return nil, InvalidParam(fmt.Sprintf("%s is longer than %d bytes", field, profileLimits[field]))
		}
		var value any
		if v != nil {
			value = *v
		}
		return struct{}{}, c.s.Profile.SetProfileField(c.ctx, c.who, field, value)
	}
}

// ---- account data ----

// serverAccountData are the types the server controls
// (data/api/client-server/account-data.yaml: 405 M_BAD_JSON).
var serverAccountData = map[string]bool{"m.fully_read": true, "m.push_rules": true}

// accountDataParams is the preamble of the account data handlers: the
// AccountData backend must be configured, userId must be the caller,
// and the optional roomId and the type must be valid.
func (c *call) accountDataParams(what string) (roomID, typ string, err error) {
	if err := need(c.s.AccountData != nil); err != nil {
		return "", "", err
	}
	if err := c.selfParam("userId", what+" account data"); err != nil {
		return "", "", err
	}
	if c.r.PathValue("roomId") != "" {
		if roomID, err = c.roomIDParam("roomId"); err != nil {
			return "", "", err
		}
	}
	if typ, err = c.eventTypeParam("type"); err != nil {
		return "", "", err
	}
	return roomID, typ, nil
}

func (c *call) getAccountData() (any, error) {
	roomID, typ, err := c.accountDataParams("read")
	if err != nil {
		return nil, err
	}
	return c.s.AccountData.AccountData(c.ctx, c.who.UserID, roomID, typ)
}

func (c *call) putAccountData() (any, error) {
	roomID, typ, err := c.accountDataParams("add")
	if err != nil {
		return nil, err
	}
	if serverAccountData[typ] {
		return nil, NewError(http.StatusMethodNotAllowed, CodeBadJSON, "cannot set "+typ+" through this API")
	}
	content, err := c.eventContent()
	if err != nil {
		return nil, err
	}
	return struct{}{}, c.s.AccountData.SetAccountData(c.ctx, c.who.UserID, roomID, typ, content)
}

// ---- ephemeral ----

func (c *call) typing() (any, error) {
	roomID, err := c.room(c.s.Ephemeral != nil)
	if err != nil {
		return nil, err
	}
	if err := c.selfParam("userId", "set typing"); err != nil {
		return nil, err
	}
	var b struct {
		Typing  *bool  `json:"typing"`
		Timeout *int64 `json:"timeout"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	if b.Typing == nil {
		return nil, MissingParam("typing is required")
	}
	var timeout time.Duration
	if *b.Typing {
		if b.Timeout == nil {
			timeout = 30 * time.Second
		} else if *b.Timeout < 0 {
			return nil, InvalidParam("timeout must not be negative")
		} else {
			timeout = time.Duration(min(*b.Timeout, 120000)) * time.Millisecond
		}
	}
	return struct{}{}, c.s.Ephemeral.SetTyping(c.ctx, c.who, roomID, *b.Typing, timeout)
}

func (c *call) receipt() (any, error) {
	roomID, eventID, err := c.roomEvent(c.s.Ephemeral != nil)
	if err != nil {
		return nil, err
	}
	typ := c.r.PathValue("receiptType")
	var b struct {
		ThreadID *string `json:"thread_id"`
	}
	if err := c.decode(&b, true); err != nil {
		return nil, err
	}
	thread, err := receiptThread(b.ThreadID)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "m.read", "m.read.private":
		return struct{}{}, c.s.Ephemeral.SetReceipt(c.ctx, c.who, roomID, typ, eventID, thread)
	case "m.fully_read":
		if b.ThreadID != nil {
			return nil, InvalidParam("m.fully_read cannot have a thread_id")
		}
		return struct{}{}, c.setFullyRead(roomID, eventID)
	}
	return nil, InvalidParam("receipt type must be m.read, m.read.private or m.fully_read")
}

// receiptThread checks a receipt's thread_id: absent for an unthreaded
// receipt, else "main" or a thread root's event ID
// (content/client-server-api/modules/receipts.md, "Threaded read
// receipts"). Like the reference server, an empty or other string is
// refused.
func receiptThread(id *string) (string, error) {
	switch {
	case id == nil:
		return "", nil
	case *id == "main" || strings.HasPrefix(*id, "$"):
		return *id, nil
	}
	return "", InvalidParam(`thread_id must be "main" or an event ID`)
}

// setFullyRead stores the m.fully_read marker as room account data
// (content/client-server-api/modules/read_markers.md).
func (c *call) setFullyRead(roomID, eventID string) error {
	if c.s.AccountData == nil {
		return unrecognized(http.StatusNotFound)
	}
	return c.s.AccountData.SetAccountData(c.ctx, c.who.UserID, roomID, "m.fully_read", mustJSON(map[string]string{"event_id": eventID}))
}

func (c *call) readMarkers() (any, error) {
	roomID, err := c.room(c.s.Ephemeral != nil)
	if err != nil {
		return nil, err
	}
	var b struct {
		FullyRead   string `json:"m.fully_read"`
		Read        string `json:"m.read"`
		ReadPrivate string `json:"m.read.private"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	for _, id := range []string{b.FullyRead, b.Read, b.ReadPrivate} {
		if id != "" {
			if err := ValidEventID(id); err != nil {
				return nil, paramError(err)
			}
		}
	}
	if b.FullyRead != "" {
		if err := c.setFullyRead(roomID, b.FullyRead); err != nil {
			return nil, err
		}
	}
	if b.Read != "" {
		if err := c.s.Ephemeral.SetReceipt(c.ctx, c.who, roomID, "m.read", b.Read, ""); err != nil {
			return nil, err
		}
	}
	if b.ReadPrivate != "" {
		if err := c.s.Ephemeral.SetReceipt(c.ctx, c.who, roomID, "m.read.private", b.ReadPrivate, ""); err != nil {
			return nil, err
		}
	}
	return struct{}{}, nil
}

// ---- presence, user directory, stubs ----

func (c *call) getPresence() (any, error) {
	userID, err := c.userIDParam("userId")
	if err != nil {
		return nil, err
	}
	if c.s.Presence == nil {
		return PresenceStatus{Presence: "offline"}, nil
	}
	return c.s.Presence.Presence(c.ctx, userID)
}

// MaxStatusMsgBytes bounds a presence status message. The spec sets no
// limit; a status is stored and sent to everyone who shares a room with
// the user, so it is kept short (the reference server's display names are
// bounded likewise).
const MaxStatusMsgBytes = 1024

func (c *call) putPresence() (any, error) {
	if err := c.selfParam("userId", "set presence"); err != nil {
		return nil, err
	}
	var b PresenceStatus
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	switch b.Presence {
	case "online", "offline", "unavailable":
	case "":
		return nil, MissingParam("presence is required")
	default:
		return nil, InvalidParam("presence must be online, offline or unavailable")
	}
	if len(b.StatusMsg) > MaxStatusMsgBytes {
		return nil, InvalidParam(fmt.Sprintf("status_msg is longer than %d bytes", MaxStatusMsgBytes))
	}
	if c.s.Presence == nil {
		return struct{}{}, nil
	}
	return struct{}{}, c.s.Presence.SetPresence(c.ctx, c.who, b)
}

func (c *call) userDirectorySearch() (any, error) {
	var b struct {
		SearchTerm *string `json:"search_term"`
		Limit      *int    `json:"limit"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	if b.SearchTerm == nil {
		return nil, MissingParam("search_term is required")
	}
	limit := 10
	if b.Limit != nil {
		if *b.Limit < 0 {
			return nil, InvalidParam("limit must not be negative")
		}
		limit = min(*b.Limit, 1000)
	}
	results, limited := []UserResult{}, false
	if c.s.UserDirectory != nil {
		r, l, err := c.s.UserDirectory.SearchUsers(c.ctx, c.who, *b.SearchTerm, limit)
		if err != nil {
			return nil, err
		}
		if r != nil {
			results = r
		}
		limited = l
	}
	return map[string]any{"results": results, "limited": limited}, nil
}
