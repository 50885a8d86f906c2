package clientapi

// moduleRoutes are the routes of the modules with a file of their own:
// push notifications, search, room upgrades, reporting, OpenID, the room
// summary, timestamps, server support and admin lookups.
func (s *Server) moduleRoutes(add addFunc) {
	L, V1 := legacyPrefixes, v1Prefixes
	add(L, "GET", "/pushers", authRequired, (*call).getPushers)
	add(L, "POST", "/pushers/set", authRequired, (*call).setPusher)
	add(L, "GET", "/notifications", authRequired, (*call).notifications)
	add(L, "POST", "/search", authRequired, (*call).search)
	add(L, "POST", "/rooms/{roomId}/upgrade", authRequired, (*call).upgradeRoom)
	add(L, "POST", "/rooms/{roomId}/report/{eventId}", authRequired, (*call).reportEvent)
	add(L, "POST", "/rooms/{roomId}/report", authRequired, (*call).reportRoom)
	add(L, "POST", "/users/{userId}/report", authRequired, (*call).reportUser)
	add(L, "POST", "/user/{userId}/openid/request_token", authRequired, (*call).requestOpenIDToken)
	add(V1, "GET", "/rooms/{roomId}/timestamp_to_event", authRequired, (*call).timestampToEvent)
	add(V1, "GET", "/room_summary/{roomIdOrAlias}", authOptional, (*call).roomSummary)
	add(V1, "GET", "/rooms/{roomId}/hierarchy", authRequired, (*call).spaceHierarchy)
	add(V1, "GET", "/rooms/{roomId}/relations/{eventId}", authRequired, (*call).relations)
	add(V1, "GET", "/rooms/{roomId}/relations/{eventId}/{relType}", authRequired, (*call).relations)
	add(V1, "GET", "/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}", authRequired, (*call).relations)
	add(V1, "GET", "/rooms/{roomId}/threads", authRequired, (*call).threads)
	add(L, "POST", "/account/password", authRequired, (*call).changePassword)
	add(L, "POST", "/account/deactivate", authRequired, (*call).deactivate)
	add(L, "GET", "/account/3pid", authRequired, (*call).threepids)
	add(L, "POST", "/account/3pid/delete", authRequired, (*call).threepidUnbind)
	add(L, "POST", "/account/3pid/unbind", authRequired, (*call).threepidUnbind)
	for _, p := range []string{"/account/3pid", "/account/3pid/add", "/account/3pid/bind"} {
		add(L, "POST", p, authRequired, (*call).threepidRefused)
	}
	for _, p := range []string{"/account/3pid/email/requestToken", "/account/3pid/msisdn/requestToken",
		"/register/email/requestToken", "/register/msisdn/requestToken",
		"/account/password/email/requestToken", "/account/password/msisdn/requestToken"} {
		add(L, "POST", p, authNone, (*call).threepidRefused)
	}
	add(V1, "POST", "/login/get_token", authRequired, (*call).getLoginToken)
	add(V1, "GET", "/mutual_rooms", authRequired, (*call).mutualRooms)
	add(L, "POST", "/keys/claim", authRequired, (*call).keysClaim)
	add(L, "GET", "/keys/changes", authRequired, (*call).keysChanges)
	add(L, "PUT", "/sendToDevice/{eventType}/{txnId}", authRequired, (*call).sendToDevice)
	add(L, "GET", "/profile/{userId}/{keyName}", authNone, (*call).profileKeyGet)
	add(L, "PUT", "/profile/{userId}/{keyName}", authRequired, (*call).profileKeyPut)
	add(L, "DELETE", "/profile/{userId}/{keyName}", authRequired, (*call).profileKeyDelete)
	add([]string{""}, "GET", "/.well-known/matrix/support", authNone, (*call).support)
}
