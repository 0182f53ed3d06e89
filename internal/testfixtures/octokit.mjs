// Signs or verifies a batch of webhook payloads with @octokit/webhooks-methods.
// Input (stdin): {"op":"sign"|"verify","secret":S,"payloads":[base64...],"signatures":[...]}
// Output (stdout): {"signatures":[...]} or {"valid":[...]} or {"error":"..."}
import { sign, verify } from "@octokit/webhooks-methods";
import { Buffer } from "node:buffer";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));

function payloadString(b64, i) {
  const bytes = Buffer.from(b64, "base64");
  const text = bytes.toString("utf8");
  if (!Buffer.from(text, "utf8").equals(bytes)) {
    throw new Error(`payload ${i} does not survive a UTF-8 round trip`);
  }
  return text;
}

try {
  const payloads = req.payloads.map(payloadString);
  if (req.op === "sign") {
    const signatures = await Promise.all(payloads.map((p) => sign(req.secret, p)));
    process.stdout.write(JSON.stringify({ signatures }));
  } else if (req.op === "verify") {
    const valid = await Promise.all(
      payloads.map((p, i) => verify(req.secret, p, req.signatures[i])),
    );
    process.stdout.write(JSON.stringify({ valid }));
  } else {
    throw new Error(`unknown op ${req.op}`);
  }
} catch (err) {
  process.stdout.write(JSON.stringify({ error: String(err && err.message ? err.message : err) }));
  process.exitCode = 1;
}
