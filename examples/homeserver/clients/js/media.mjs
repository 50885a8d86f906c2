// The media flow of the example homeserver's tests, with matrix-js-sdk.
//
// Usage: node media.mjs UPLOAD_HOMESERVER_URL DOWNLOAD_HOMESERVER_URL
//
// A user of the first server uploads a PNG (made here, 300x200) with the
// SDK's uploadContent; a user of the second server builds the
// authenticated media URLs with the SDK's mxcUrlToHttp (useAuthentication)
// and downloads the image and a 96x96 crop thumbnail through their own
// server, which fetches them from the first over federation.
// Prints "ok" and exits 0 on success; anything else is a failure.
import { verdict } from "./verdict.mjs";
import * as sdk from "matrix-js-sdk";
import { randomBytes } from "node:crypto";
import { deflateSync } from "node:zlib";

(await import("matrix-js-sdk/lib/logger.js")).logger.setLevel("warn");

const [urlA, urlB] = process.argv.slice(2);
const tag = randomBytes(3).toString("hex");

function fail(msg) {
  console.error("FAIL:", msg);
  process.exit(1);
}

async function user(baseUrl, name) {
  const anon = sdk.createClient({ baseUrl });
  const password = "secret-" + name;
  await anon.registerRequest({ username: name, password, auth: { type: "m.login.dummy" } });
  const login = await anon.loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user: name },
    password,
  });
  return sdk.createClient({ baseUrl, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id });
}

// crc32 of the PNG chunks.
function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

// png returns a width x height RGB PNG, top half green, bottom half black.
function png(width, height) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) row[1 + x * 3 + 1] = y < height / 2 ? 255 : 0;
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

async function get(c, url) {
  const res = await fetch(url, { headers: { Authorization: "Bearer " + c.getAccessToken() } });
  if (res.status !== 200) fail(`GET ${url}: ${res.status} ${await res.text()}`);
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

const alice = await user(urlA, "alice" + tag);
const bob = await user(urlB, "bob" + tag);

const image = png(300, 200);
const up = await alice.uploadContent(image, { name: "green.png", type: "image/png" });
const server = alice.getUserId().split(":").slice(1).join(":");
if (!up.content_uri?.startsWith(`mxc://${server}/`)) fail(`upload: content_uri ${up.content_uri}`);

const dl = bob.mxcUrlToHttp(up.content_uri, undefined, undefined, undefined, false, true, true);
if (!dl.includes("/_matrix/client/v1/media/download/")) fail(`mxcUrlToHttp did not build an authenticated URL: ${dl}`);
const { res, body } = await get(bob, dl);
if (!body.equals(image)) fail(`download: ${body.length} bytes, want ${image.length}`);
if (res.headers.get("content-type") !== "image/png") fail(`download: content-type ${res.headers.get("content-type")}`);
if (res.headers.get("content-disposition") !== 'inline; filename="green.png"') fail(`download: content-disposition ${res.headers.get("content-disposition")}`);

const th = bob.mxcUrlToHttp(up.content_uri, 96, 96, "crop", false, true, true);
const t = await get(bob, th);
if (t.res.headers.get("content-type") !== "image/png") fail(`thumbnail: content-type ${t.res.headers.get("content-type")}`);
const w = t.body.readUInt32BE(16), h = t.body.readUInt32BE(20);
if (w !== 96 || h !== 96) fail(`thumbnail: ${w}x${h}, want 96x96`);

verdict("ok");
process.exit(0);
