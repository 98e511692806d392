// Fails when src/api/schema.d.ts is not what openapi-typescript makes of openapi.json
// (someone edited the types by hand, or changed openapi.json without `npm run gen:api`).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "check-api-"));
const fresh = join(dir, "schema.d.ts");
try {
  execFileSync("npx", ["--no-install", "openapi-typescript", "openapi.json", "-o", fresh], { stdio: "pipe" });
  if (readFileSync(fresh, "utf8") !== readFileSync("src/api/schema.d.ts", "utf8")) {
    console.error(
      "src/api/schema.d.ts is stale: it differs from the types generated from openapi.json.\n" +
        "Run `npm run gen:api` (or `scripts/frontend.sh gen-api` to re-dump the schema from the backend too).",
    );
    process.exit(1);
  }
  console.log("src/api/schema.d.ts matches openapi.json");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
