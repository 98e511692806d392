"""The web app's checked-in OpenAPI schema (the source of its generated TypeScript client) is the API's."""

from __future__ import annotations

import json
from pathlib import Path

from imaging_ai.api.app import create_app
from imaging_ai.settings import PROJECT_ROOT, Settings

SCHEMA = PROJECT_ROOT / "frontend" / "openapi.json"
FIX = (
    "frontend/openapi.json is stale: the API changed. Regenerate the schema and the web app's typed client "
    "with `scripts/frontend.sh gen-api`, check that the web app still builds (`scripts/frontend.sh test`), "
    "and commit frontend/openapi.json and frontend/src/api/schema.d.ts."
)


def test_checked_in_schema_is_the_apis(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'schema.sqlite3'}")
    # As `imaging-ai openapi` writes it: the app's schema, keys sorted.
    current = json.loads(json.dumps(create_app(settings).openapi(), sort_keys=True))
    assert SCHEMA.is_file(), f"frontend/openapi.json is missing. {FIX}"
    checked_in = json.loads(SCHEMA.read_text())
    if checked_in != current:
        changed = sorted(
            set(checked_in.get("paths", {})) ^ set(current.get("paths", {}))
            | {
                path
                for path in set(checked_in.get("paths", {})) & set(current.get("paths", {}))
                if checked_in["paths"][path] != current["paths"][path]
            }
        )
        schemas = sorted(
            name
            for name in set(checked_in.get("components", {}).get("schemas", {}))
            | set(current.get("components", {}).get("schemas", {}))
            if checked_in.get("components", {}).get("schemas", {}).get(name)
            != current.get("components", {}).get("schemas", {}).get(name)
        )
        raise AssertionError(
            f"{FIX}\nPaths that differ: {changed or 'none'}\nSchemas that differ: {schemas or 'none'}"
        )
