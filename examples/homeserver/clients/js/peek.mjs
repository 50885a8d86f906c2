// Room previews (peeking) with matrix-js-sdk against the example
// homeserver: the legacy GET /rooms/{roomId}/initialSync and the GET
// /events?room_id= long poll.
//
// Usage: node peek.mjs HOMESERVER_URL
//
// Alice makes a room whose history is world_readable and says "before";
// Bob, not a member, peeks with the SDK's peekInRoom: the room's name and
// "before" are in his copy of the room; then Alice says "live" and the
// SDK's peek poll delivers it to Bob's timeline.
// Prints "ok" and exits 0 on success; anything else is a failure.
import { verdict } from "./verdict.mjs";
import * as sdk from "matrix-js-sdk";
import { randomBytes } from "node:crypto";

(await import("matrix-js-sdk/lib/logger.js")).logger.setLevel("warn");

const [baseUrl] = process.argv.slice(2);
const tag = randomBytes(3).toString("hex");

function fail(msg) {
  console.error("FAIL:", msg);
  process.exit(1);
}

async function user(name) {
  const anon = sdk.createClient({ baseUrl });
  const r = await anon.registerRequest({ username: name + tag, password: "secret-" + name, auth: { type: "m.login.dummy" } });
  return sdk.createClient({ baseUrl, accessToken: r.access_token, userId: r.user_id, deviceId: r.device_id });
}

const alice = await user("alice");
const bob = await user("bob");
const { room_id } = await alice.createRoom({
  name: "open book",
  initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "world_readable" } }],
});
await alice.sendTextMessage(room_id, "before");

const room = await bob.peekInRoom(room_id);
const bodies = () => room.getLiveTimeline().getEvents().map((e) => e.getContent().body).filter(Boolean);
if (room.name !== "open book") fail("peeked room name: " + room.name);
if (!bodies().includes("before")) fail("peeked timeline: " + JSON.stringify(bodies()));
if (room.getMember(alice.getUserId())?.membership !== "join") fail("peeked state lacks alice's membership");

const live = new Promise((resolve) => {
  bob.on(sdk.RoomEvent.Timeline, (ev, r) => {
    if (r?.roomId === room_id && ev.getContent().body === "live") resolve();
  });
});
// Give the peek poll its first request before the message.
await new Promise((r) => setTimeout(r, 300));
await alice.sendTextMessage(room_id, "live");
const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("no live event within 15s")), 15000));
try {
  await Promise.race([live, timeout]);
} catch (e) {
  fail(e.message + "; timeline: " + JSON.stringify(bodies()));
}
bob.stopPeeking();
verdict("ok");
process.exit(0);
