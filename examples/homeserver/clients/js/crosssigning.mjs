// Cross-signing and server-side key backup with matrix-js-sdk and its Rust
// crypto (@matrix-org/matrix-sdk-crypto-wasm) against the example
// homeserver.
//
// Usage: node crosssigning.mjs HOMESERVER_URL
//
// A user's first device bootstraps cross-signing (keys/device_signing/upload,
// then keys/signatures/upload of its own device), secret storage (account
// data) and a key backup (room_keys/version), and sends a message in an
// encrypted room, whose Megolm session the SDK backs up (room_keys/keys).
// A second device of the same user logs in and sees the cross-signing
// keys, the first device signed by them, and the backup version; with the
// recovery key it reads the backup key from secret storage, restores the
// backup and decrypts the message.
// Prints "ok" and exits 0 on success; anything else is a failure.
import { verdict } from "./verdict.mjs";
import * as sdk from "matrix-js-sdk";
import { randomBytes } from "node:crypto";

(await import("matrix-js-sdk/lib/logger.js")).logger.setLevel("warn");
// The Rust crypto logs through console.log and console.debug: those go to
// stderr, stdout carries the verdict alone.
console.log = console.debug = console.info = (...args) => console.error(...args);

const [baseUrl] = process.argv.slice(2);
const name = "jscs" + randomBytes(3).toString("hex");
const password = "secret-" + name;

function fail(msg) {
  console.error("FAIL:", msg);
  process.exit(1);
}

async function until(what, pred, ms = 20000) {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    const v = await pred();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("timed out waiting for " + what);
}

// recoveryKey is the secret storage key, made by the first device and
// typed in by the user on the second.
let recoveryKey;
const cryptoCallbacks = {
  getSecretStorageKey: async ({ keys }) => [Object.keys(keys)[0], recoveryKey.privateKey],
};

// device logs in a new device of the user and starts it with Rust crypto
// in memory.
async function device() {
  const anon = sdk.createClient({ baseUrl });
  const login = await anon.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: name }, password });
  const c = sdk.createClient({ baseUrl, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id, cryptoCallbacks });
  await c.initRustCrypto({ useIndexedDB: false });
  const prepared = new Promise((resolve, reject) => {
    c.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
      if (state === "PREPARED") resolve();
      if (state === "ERROR") reject(new Error("sync error: " + (data?.error?.message ?? "unknown")));
    });
  });
  await c.startClient({ initialSyncLimit: 10 });
  await prepared;
  return c;
}

// raw makes an authenticated request of c's user outside the SDK.
async function raw(c, method, path) {
  const r = await fetch(baseUrl + "/_matrix/client/v3" + path, { method, headers: { Authorization: "Bearer " + c.getAccessToken() } });
  const body = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(body)}`);
  return body;
}

try {
  await sdk.createClient({ baseUrl }).registerRequest({ username: name, password, auth: { type: "m.login.dummy" } });
  const first = await device();
  const userId = first.getUserId();
  const crypto1 = first.getCrypto();

  await crypto1.bootstrapCrossSigning({
    setupNewCrossSigning: true,
    authUploadDeviceSigningKeys: async (makeRequest) => {
      await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: name }, password });
    },
  });
  if (!(await crypto1.isCrossSigningReady())) fail("cross-signing not ready on the first device");
  const status = await crypto1.getCrossSigningStatus();
  if (!status.publicKeysOnDevice || !status.privateKeysCachedLocally.masterKey) fail("cross-signing status " + JSON.stringify(status));

  recoveryKey = await crypto1.createRecoveryKeyFromPassphrase();
  await crypto1.bootstrapSecretStorage({ createSecretStorageKey: async () => recoveryKey, setupNewSecretStorage: true, setupNewKeyBackup: true });
  const info1 = await until("the backup version", () => crypto1.getKeyBackupInfo());
  await until("the backup in use", async () => (await crypto1.getActiveSessionBackupVersion()) === info1.version);
  const trust1 = await crypto1.isKeyBackupTrusted(info1);
  if (!trust1.trusted) fail("the first device does not trust its own backup: " + JSON.stringify(trust1));

  // A Megolm session is made by the first message of an encrypted room,
  // and backed up.
  const { room_id: roomId } = await first.createRoom({
    name: "backed up",
    initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
  });
  await until("the room", () => first.getRoom(roomId));
  await until("encryption of the room", () => crypto1.isEncryptionEnabledInRoom(roomId));
  await first.sendMessage(roomId, { msgtype: "m.text", body: "kept in the backup" });
  const backed = await until("a room key in the backup", async () => {
    const keys = await raw(first, "GET", "/room_keys/keys?version=" + encodeURIComponent(info1.version));
    const sessions = keys.rooms?.[roomId]?.sessions ?? {};
    return Object.keys(sessions).length > 0 ? sessions : null;
  });
  const v = await raw(first, "GET", "/room_keys/version");
  if (v.version !== info1.version || v.count < 1 || typeof v.etag !== "string") fail("backup version " + JSON.stringify(v));
  for (const s of Object.values(backed)) {
    if (typeof s.first_message_index !== "number" || typeof s.session_data?.ciphertext !== "string") fail("backed-up key " + JSON.stringify(s));
  }

  const second = await device();
  const crypto2 = second.getCrypto();
  if (!(await crypto2.userHasCrossSigningKeys(userId, true))) fail("the second device sees no cross-signing keys");
  const dev1 = await until("the first device signed by its owner", async () => {
    const s = await crypto2.getDeviceVerificationStatus(userId, first.getDeviceId());
    return s?.signedByOwner ? s : null;
  });
  if (!dev1.signedByOwner) fail("first device status " + JSON.stringify(dev1));
  const info2 = await crypto2.getKeyBackupInfo();
  if (info2?.version !== info1.version || info2.algorithm !== info1.algorithm) fail("backup seen by the second device " + JSON.stringify(info2));
  const check = await crypto2.checkKeyBackupAndEnable();
  if (check?.backupInfo?.version !== info1.version) fail("checkKeyBackupAndEnable on the second device " + JSON.stringify(check));

  // The second device restores the backup and reads the message.
  await crypto2.loadSessionBackupPrivateKeyFromSecretStorage();
  const restored = await crypto2.restoreKeyBackup();
  if (restored.imported < 1) fail("restored " + JSON.stringify(restored));
  const history = await raw(second, "GET", "/rooms/" + encodeURIComponent(roomId) + "/messages?dir=b&limit=20");
  const encrypted = history.chunk.find((e) => e.type === "m.room.encrypted");
  if (!encrypted) fail("no encrypted event in " + JSON.stringify(history.chunk.map((e) => e.type)));
  const ev = new sdk.MatrixEvent(encrypted);
  await second.decryptEventIfNeeded(ev);
  if (ev.getContent().body !== "kept in the backup") fail("decrypted with the restored key: " + JSON.stringify(ev.getContent()));

  first.stopClient();
  second.stopClient();
  verdict("ok");
  process.exit(0);
} catch (e) {
  fail(e?.stack ?? String(e));
}
