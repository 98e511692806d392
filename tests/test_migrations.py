"""The schema is made by Alembic alone: it goes up and down cleanly, and matches the models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, text

from imaging_ai.persistence import migrations
from imaging_ai.persistence.base import Base

EXPECTED_TABLES = {
    "images",
    "result_deliveries",
    "predictions",
    "feedback",
    "model_versions",
    "training_jobs",
    "audit_events",
    "users",
    "user_roles",
    "api_keys",
    "auth_sessions",
    "login_attempts",
    "autonomy_policies",
    "alerts",
    "site_versions",
    "operating_points",
    "learning_scores",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, make_postgres_database: Callable[[], str]
) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    return make_postgres_database()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_head_then_downgrade_base(empty_database_url: str) -> None:
    assert _tables(empty_database_url) == set()
    migrations.upgrade(empty_database_url)
    assert _tables(empty_database_url) == EXPECTED_TABLES
    engine = create_engine(empty_database_url)
    try:
        assert migrations.is_at_head(engine)
    finally:
        engine.dispose()
    migrations.downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) == set()
    # And up again: downgrade left nothing behind that blocks a fresh upgrade.
    migrations.upgrade(empty_database_url)
    assert _tables(empty_database_url) == EXPECTED_TABLES


def test_migrating_creates_the_data_folder_of_a_fresh_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'var' / 'imaging_ai.sqlite3'}"
    migrations.upgrade(url)
    assert _tables(url) == EXPECTED_TABLES


def test_models_and_migrations_agree(empty_database_url: str) -> None:
    migrations.upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], f"models differ from migrations; run `imaging-ai makemigration`: {differences}"


def test_one_active_version_per_task_is_enforced_by_the_database(empty_database_url: str) -> None:
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session

    from imaging_ai.persistence.models import ModelVersion

    migrations.upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        with Session(engine) as session:
            for name, status in [("a", "active"), ("b", "retired"), ("c", "candidate")]:
                session.add(
                    ModelVersion(id=name, task="t", status=status, store_path=name, weights_sha256="0" * 64)
                )
            session.add(
                ModelVersion(id="other", task="u", status="active", store_path="o", weights_sha256="0" * 64)
            )
            session.commit()
            session.add(
                ModelVersion(id="d", task="t", status="active", store_path="d", weights_sha256="0" * 64)
            )
            with pytest.raises(IntegrityError):
                session.commit()
    finally:
        engine.dispose()


def _insert_version_and_image(connection: Connection) -> None:
    """Version `t.v1` and image ...0001 in raw SQL: these columns are the same from 0004 on, and the
    tests below write rows at a past revision, where the current ORM models do not apply."""
    connection.execute(
        text(
            "INSERT INTO model_versions (id, task, status, store_path, weights_sha256, created_at) "
            "VALUES ('t.v1', 't', 'active', 'p', :sha, CURRENT_TIMESTAMP)"
        ),
        {"sha": "0" * 64},
    )
    connection.execute(
        text(
            "INSERT INTO images (id, content_sha256, size_bytes, media_type, format, rows, cols, "
            "bits_stored, photometric_interpretation, number_of_frames, frame_index, created_at) "
            "VALUES (:id, :sha, 1, 'image/png', 'png', 1, 1, 8, 'MONOCHROME2', 1, 0, CURRENT_TIMESTAMP)"
        ),
        {"id": "00000000000000000000000000000001", "sha": "1" * 64},
    )


def test_predictions_from_before_site_serving_keep_their_version_and_show_argmax(
    empty_database_url: str,
) -> None:
    """Migration 0005: the active version becomes the task's default, and existing predictions say they
    were routed to it and served at the label of highest probability."""
    from sqlalchemy import text

    migrations.upgrade(empty_database_url, "0004")
    engine = create_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            _insert_version_and_image(connection)
            connection.execute(
                text(
                    "INSERT INTO predictions (id, image_id, task, model_version_id, predicted_label, "
                    "probabilities, confidence, uncertainty, status, inference_ms, created_at) VALUES (:id, "
                    ":image, 't', 't.v1', 'a', '{}', 0.9, 0.1, 'pending_review', 1, CURRENT_TIMESTAMP)"
                ),
                {"id": "00000000000000000000000000000002", "image": "00000000000000000000000000000001"},
            )
        migrations.upgrade(empty_database_url)
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT model_version_id, routing, decision_threshold, operating_point FROM predictions")
            ).one()
            default = connection.execute(
                text("SELECT id FROM model_versions WHERE status = 'active'")
            ).scalar()
            own = connection.execute(text("SELECT count(*) FROM site_versions")).scalar()
    finally:
        engine.dispose()
    assert tuple(row) == ("t.v1", "default", None, "argmax")
    assert default == "t.v1" and own == 0


def test_blind_read_rules_drop_task_wide_and_unblinded_levels_and_file_names(
    empty_database_url: str,
) -> None:
    """Migration 0006: no task-wide level survives, levels earned on unblinded agreement return to
    supervised (with the reason on the row), and uploaders' file names are gone, column and values."""
    from sqlalchemy import text

    migrations.upgrade(empty_database_url, "0005")
    engine = create_engine(empty_database_url)
    policy = (
        "INSERT INTO autonomy_policies (task, site, level, confidence_threshold, audit_fraction, changed_by, "
        "reason, changed_at) VALUES ('t', :site, :level, :threshold, :fraction, 'dr.admin', 'board', "
        "CURRENT_TIMESTAMP)"
    )
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO images (id, content_sha256, size_bytes, original_filename, media_type, "
                    "format, rows, cols, bits_stored, photometric_interpretation, number_of_frames, "
                    "frame_index, "
                    "created_at) VALUES (:id, :sha, 1, 'DOE^JANE chest.png', 'image/png', 'png', 1, 1, 8, "
                    "'MONOCHROME2', 1, 0, CURRENT_TIMESTAMP)"
                ),
                {"id": "00000000000000000000000000000001", "sha": "1" * 64},
            )
            connection.execute(
                text(policy), {"site": "*", "level": "autonomous", "threshold": None, "fraction": 0.1}
            )
            connection.execute(
                text(policy), {"site": "gz", "level": "semi_autonomous", "threshold": 0.97, "fraction": 0.3}
            )
            connection.execute(
                text(policy), {"site": "nih", "level": "supervised", "threshold": None, "fraction": 0.0}
            )
        migrations.upgrade(empty_database_url)
        with engine.connect() as connection:
            policies = connection.execute(
                text(
                    "SELECT site, level, class_thresholds, blind_read_fraction, reason "
                    "FROM autonomy_policies "
                    "ORDER BY site"
                )
            ).all()
            image_columns = {column["name"] for column in inspect(connection).get_columns("images")}
    finally:
        engine.dispose()
    assert [(p.site, p.level, p.class_thresholds, p.blind_read_fraction) for p in policies] == [
        ("gz", "supervised", None, 0.3),
        ("nih", "supervised", None, 0.2),
    ]
    assert "Migration 0006" in policies[0].reason and policies[1].reason == "board"
    assert "original_filename" not in image_columns


def test_accession_numbers_and_external_ids_become_keyed_hashes(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0007: clear accession numbers and external ids are replaced by the HMAC pseudonym the
    service now stores (the same function as for patient ids); blank ones become NULL. The key is the
    one given, else the settings' (here from the environment, as `imaging-ai migrate` reads it)."""
    from sqlalchemy import text

    from imaging_ai.services.cases.images import pseudonymise

    migrations.upgrade(empty_database_url, "0006")
    engine = create_engine(empty_database_url)
    prediction = (
        "INSERT INTO predictions (id, image_id, task, model_version_id, predicted_label, probabilities, "
        "confidence, uncertainty, status, inference_ms, created_at, accession_number, external_id) VALUES "
        "(:id, :image, 't', 't.v1', 'a', '{}', 0.9, 0.1, 'pending_review', 1, CURRENT_TIMESTAMP, :acc, :ext)"
    )
    rows = [("ACC-2026-0001", "ris-9"), (None, " ext 7 "), ("   ", None), (None, None)]
    try:
        with engine.begin() as connection:
            _insert_version_and_image(connection)
            for number, (acc, ext) in enumerate(rows, start=2):
                connection.execute(
                    text(prediction),
                    {
                        "id": f"{number:032x}",
                        "image": "00000000000000000000000000000001",
                        "acc": acc,
                        "ext": ext,
                    },
                )
        monkeypatch.setenv("IMAGING_AI_PSEUDONYM_KEY", "key-from-the-settings")
        migrations.upgrade(empty_database_url)
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT accession_number, external_id FROM predictions ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    key = b"key-from-the-settings"
    assert [tuple(row) for row in stored] == [
        (pseudonymise("ACC-2026-0001", key), pseudonymise("ris-9", key)),
        (None, pseudonymise("ext 7", key)),
        (None, None),
        (None, None),
    ]


def test_the_pseudonym_key_can_be_given_to_the_migration(empty_database_url: str) -> None:
    from sqlalchemy import text

    from imaging_ai.services.cases.images import pseudonymise

    migrations.upgrade(empty_database_url, "0006")
    engine = create_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            _insert_version_and_image(connection)
            connection.execute(
                text(
                    "INSERT INTO predictions (id, image_id, task, model_version_id, predicted_label, "
                    "probabilities, confidence, uncertainty, status, inference_ms, created_at, "
                    "accession_number) VALUES (:id, :image, 't', 't.v1', 'a', '{}', 0.9, 0.1, "
                    "'pending_review', 1, CURRENT_TIMESTAMP, 'ACC-1')"
                ),
                {"id": "00000000000000000000000000000002", "image": "00000000000000000000000000000001"},
            )
        migrations.upgrade(empty_database_url, pseudonym_key=b"given-key")
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT accession_number FROM predictions")).scalar()
    finally:
        engine.dispose()
    assert stored == pseudonymise("ACC-1", b"given-key")
