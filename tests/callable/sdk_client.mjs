// The backend's callable functions, called with the real Firebase JS SDK (firebase/functions
// `httpsCallableFromURL`) by users signed in on the Auth emulator (firebase/auth).
//
// Run by tests/integration/test_callable_sdk.py, which starts the backend and passes:
//   API_URL                      the backend's base URL (callables at ${API_URL}/call/{operationId},
//                                admin's at ${API_URL}/admincall/{operationId})
//   FIREBASE_AUTH_EMULATOR_HOST  host:port of the Auth emulator
//   PROJECT_ID                   the emulators' project
//   USERS                        JSON {"owner"|"member"|"admin": {"email", "password"}}
// Prints one JSON line {"checks": [...], "projectId", "memberUid"} and exits 0, or prints
// the failed check and exits 1.

import { initializeApp } from "firebase/app";
import { connectAuthEmulator, getAuth, signInWithEmailAndPassword, signOut } from "firebase/auth";
import { FunctionsError, getFunctions, httpsCallableFromURL } from "firebase/functions";

const API_URL = process.env.API_URL;
const PROJECT_ID = process.env.PROJECT_ID;
const USERS = JSON.parse(process.env.USERS);
const checks = [];

function check(name, condition, detail) {
  if (!condition) {
    console.log(JSON.stringify({ failed: name, detail }));
    process.exit(1);
  }
  checks.push(name);
}

// One Firebase app per user, each signed in on the Auth emulator.
async function signedIn(who) {
  const app = initializeApp({ projectId: PROJECT_ID, apiKey: "demo-api-key" }, who);
  const auth = getAuth(app);
  connectAuthEmulator(auth, `http://${process.env.FIREBASE_AUTH_EMULATOR_HOST}`, {
    disableWarnings: true,
  });
  const credential = await signInWithEmailAndPassword(auth, USERS[who].email, USERS[who].password);
  const functions = getFunctions(app);
  // admin's operations are served by a callable function of their own (admincall).
  const at = (callable) => async (operationId, data) =>
    (await httpsCallableFromURL(functions, `${API_URL}/${callable}/${operationId}`)(data)).data;
  return { auth, uid: credential.user.uid, call: at("call"), adminCall: at("admincall") };
}

// The FunctionsError a call must fail with: its SDK code and this API's details.code.
async function fails(name, promise, code, apiCode) {
  try {
    await promise;
  } catch (error) {
    check(
      name,
      error instanceof FunctionsError && error.code === code && error.details?.code === apiCode,
      { code: error.code, details: error.details, message: error.message },
    );
    return error;
  }
  check(name, false, "the call succeeded");
}

const owner = await signedIn("owner");
const member = await signedIn("member");
const admin = await signedIn("admin");

const me = await owner.call("get_me", null);
check("get_me", me.uid === owner.uid && me.email === USERS.owner.email, me);

const created = await owner.call("create_project", {
  name: "Callable project",
  description: "made by the JS SDK",
  idempotencyKey: "sdk-create-1",
});
check("create_project", created.name === "Callable project" && created.ownerId === owner.uid, created);
const replayed = await owner.call("create_project", {
  name: "Callable project",
  description: "made by the JS SDK",
  idempotencyKey: "sdk-create-1",
});
check("create_project_idempotent", replayed.id === created.id, replayed);

const page = await owner.call("list_projects", { limit: 10 });
check("list_projects", page.items.map((p) => p.id).includes(created.id), page);

const got = await owner.call("get_project", { project_id: created.id });
check("get_project", got.id === created.id && got.version === created.version, got);

const renamed = await owner.call("patch_project", {
  project_id: created.id,
  name: "Renamed by callable",
  ifMatch: got.version,
});
check("rename_project", renamed.name === "Renamed by callable" && renamed.version > got.version, renamed);
await fails(
  "stale_if_match_is_aborted",
  owner.call("patch_project", { project_id: created.id, name: "Lost", ifMatch: got.version }),
  "functions/aborted",
  "precondition_failed",
);

const shared = await owner.call("share_by_email", {
  project_id: created.id,
  email: USERS.member.email,
  role: "viewer",
});
check("share_by_email", shared.viewers.includes(member.uid), shared);
const seen = await member.call("get_project", { project_id: created.id });
check("member_reads_shared_project", seen.id === created.id, seen);
await fails(
  "viewer_cannot_rename",
  member.call("patch_project", { project_id: created.id, name: "Mine now" }),
  "functions/permission-denied",
  "forbidden",
);
await fails(
  "unknown_project_is_not_found",
  owner.call("get_project", { project_id: "A".repeat(20) }),
  "functions/not-found",
  "not_found",
);
const invalid = await fails(
  "bad_field_is_invalid_argument",
  owner.call("create_project", { name: 5 }),
  "functions/invalid-argument",
  "validation_error",
);
check("invalid_argument_names_the_field", "name" in invalid.details.fields, invalid.details);
await fails(
  "unknown_operation_is_not_found",
  owner.call("no_such_operation", {}),
  "functions/not-found",
  "not_found",
);

const roles = await admin.adminCall("put_roles", { uid: member.uid, roles: ["auditor"] });
check("admin_changes_a_role", JSON.stringify(roles.roles) === '["auditor"]', roles);
const read = await admin.adminCall("get_roles", { uid: member.uid });
check("admin_reads_the_role", JSON.stringify(read.roles) === '["auditor"]', read);
await fails(
  "non_admin_cannot_change_roles",
  owner.adminCall("put_roles", { uid: owner.uid, roles: ["admin"] }),
  "functions/permission-denied",
  "forbidden",
);
await fails(
  "admin_cannot_demote_themselves",
  admin.adminCall("put_roles", { uid: admin.uid, roles: [] }),
  "functions/failed-precondition",
  "self_demotion",
);
await fails(
  "call_does_not_serve_admin_operations",
  admin.call("put_roles", { uid: member.uid, roles: [] }),
  "functions/not-found",
  "not_found",
);
const unchanged = await admin.adminCall("get_roles", { uid: member.uid });
check("the_refused_call_changed_nothing", JSON.stringify(unchanged.roles) === '["auditor"]', unchanged);

const current = await owner.call("get_project", { project_id: created.id });
const deleted = await owner.call("delete_project", {
  project_id: created.id,
  ifMatch: current.version,
});
check("delete_project", deleted === null, deleted);
await fails(
  "deleted_project_is_not_found",
  owner.call("get_project", { project_id: created.id }),
  "functions/not-found",
  "not_found",
);

await signOut(owner.auth);
await fails(
  "signed_out_is_unauthenticated",
  owner.call("get_me", null),
  "functions/unauthenticated",
  "missing_token",
);

console.log(JSON.stringify({ checks, projectId: created.id, memberUid: member.uid }));
process.exit(0);
