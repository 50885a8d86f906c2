// Refresh tokens with matrix-js-sdk against the example homeserver.
//
// Usage: node refresh.mjs HOMESERVER_URL LIFETIME_MS
//
// A user registers asking for a refresh token; a client made with the
// SDK's tokenRefreshFunction (which calls the SDK's refreshToken, POST
// /v3/refresh) waits out the access token's lifetime, then makes
// requests: the SDK meets M_UNKNOWN_TOKEN, refreshes and retries. The old
// refresh token is then refused, since the new access token was used.
// Prints "ok" and exits 0 on success; anything else is a failure.
import { verdict } from "./verdict.mjs";
import * as sdk from "matrix-js-sdk";
import { randomBytes } from "node:crypto";

(await import("matrix-js-sdk/lib/logger.js")).logger.setLevel("warn");

const [baseUrl, lifetimeArg] = process.argv.slice(2);
const lifetime = Number(lifetimeArg);
const name = "js" + randomBytes(3).toString("hex");

function fail(msg) {
  console.error("FAIL:", msg);
  process.exit(1);
}

const anon = sdk.createClient({ baseUrl });
const reg = await anon.registerRequest({
  username: name,
  password: "secret-" + name,
  auth: { type: "m.login.dummy" },
  refresh_token: true,
});
if (!reg.refresh_token || reg.expires_in_ms !== lifetime) fail("registration: " + JSON.stringify(reg));

const refreshes = [];
const client = sdk.createClient({
  baseUrl,
  userId: reg.user_id,
  deviceId: reg.device_id,
  accessToken: reg.access_token,
  refreshToken: reg.refresh_token,
  tokenRefreshFunction: async (refreshToken) => {
    const r = await anon.refreshToken(refreshToken);
    refreshes.push(refreshToken);
    return { accessToken: r.access_token, refreshToken: r.refresh_token, expiry: new Date(Date.now() + r.expires_in_ms) };
  },
});

await new Promise((r) => setTimeout(r, lifetime + 500));
const who = await client.whoami();
if (who.user_id !== reg.user_id) fail("whoami after expiry: " + JSON.stringify(who));
if (refreshes.length < 1 || refreshes[0] !== reg.refresh_token) fail("the SDK did not refresh with the first token");
if (client.getAccessToken() === reg.access_token) fail("the access token did not change");
const { room_id } = await client.createRoom({ name: "refreshed" });
await client.sendTextMessage(room_id, "after a refresh");

// The new access token has been used: the first refresh token is revoked.
try {
  await anon.refreshToken(reg.refresh_token);
  fail("the first refresh token still works");
} catch (e) {
  if (e.errcode !== "M_UNKNOWN_TOKEN") fail("refresh with the revoked token: " + e);
}
verdict("ok");
process.exit(0);
