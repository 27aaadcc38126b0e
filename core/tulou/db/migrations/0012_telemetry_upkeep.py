"""Hourly aggregates of telemetry, the hours waiting to be rolled up, and day partitions of raw readings.

Hand-written, like the raw table in ``0007_devices``: these tables are written in
bulk on the driver (see :mod:`tulou.devices.aggregates` and :mod:`tulou.devices.retention`)
and are shaped per database.

On PostgreSQL the raw table becomes partitioned by day (UTC), so that retention
drops whole days instead of deleting rows; readings of a day without a partition
land in ``core_telemetry_default`` until the upkeep job gives the day one. Existing
readings are copied across, and every hour that has readings is marked for rollup.
A dirty hour has a row per writing process (``writer``), so processes writing at once
do not wait for each other's mark.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = """
    CREATE INDEX core_telemetry_device_property_ts ON core_telemetry (device_id, property_id, ts);
    CREATE INDEX core_telemetry_ts_brin ON core_telemetry USING brin (ts);
"""

POSTGRES = """
    ALTER TABLE core_telemetry RENAME TO core_telemetry_unpartitioned;
    DROP INDEX core_telemetry_device_property_ts;
    DROP INDEX core_telemetry_ts_brin;
    CREATE TABLE core_telemetry (
        device_id integer NOT NULL, property_id integer NOT NULL, ts timestamptz NOT NULL,
        value double precision, text_value text
    ) PARTITION BY RANGE (ts);
    CREATE TABLE core_telemetry_default PARTITION OF core_telemetry DEFAULT;
""" + INDEXES + """
    INSERT INTO core_telemetry SELECT * FROM core_telemetry_unpartitioned;
    DROP TABLE core_telemetry_unpartitioned;
    CREATE TABLE core_telemetry_hourly (
        device_id integer NOT NULL, property_id integer NOT NULL, hour timestamptz NOT NULL,
        reading_count bigint NOT NULL, value_count bigint NOT NULL,
        value_sum double precision, value_min double precision, value_max double precision,
        PRIMARY KEY (device_id, property_id, hour)
    );
    CREATE INDEX core_telemetry_hourly_hour ON core_telemetry_hourly (hour);
    CREATE TABLE core_telemetry_dirty_hour (
        hour timestamptz NOT NULL, writer smallint NOT NULL DEFAULT 0, writes bigint NOT NULL DEFAULT 1,
        PRIMARY KEY (hour, writer)
    );
    CREATE TABLE core_telemetry_upkeep (name varchar(32) PRIMARY KEY, at timestamptz NOT NULL);
    INSERT INTO core_telemetry_dirty_hour (hour)
        SELECT DISTINCT date_bin('1 hour', ts, '1970-01-01 00:00:00+00') FROM core_telemetry;
"""

SQLITE = """
    CREATE INDEX core_telemetry_ts ON core_telemetry (ts);
    CREATE TABLE core_telemetry_hourly (
        device_id INTEGER NOT NULL, property_id INTEGER NOT NULL, hour INTEGER NOT NULL,
        reading_count INTEGER NOT NULL, value_count INTEGER NOT NULL,
        value_sum REAL, value_min REAL, value_max REAL,
        PRIMARY KEY (device_id, property_id, hour)
    );
    CREATE INDEX core_telemetry_hourly_hour ON core_telemetry_hourly (hour);
    CREATE TABLE core_telemetry_dirty_hour (
        hour INTEGER NOT NULL, writer INTEGER NOT NULL DEFAULT 0, writes INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (hour, writer)
    );
    CREATE TABLE core_telemetry_upkeep (name TEXT PRIMARY KEY, at INTEGER NOT NULL);
    INSERT INTO core_telemetry_dirty_hour (hour)
        SELECT DISTINCT (ts / 3600000000) * 3600000000 FROM core_telemetry;
"""

UNDO = {
    "postgres": """
        CREATE TABLE core_telemetry_partitioned AS SELECT * FROM core_telemetry;
        DROP TABLE core_telemetry;
        ALTER TABLE core_telemetry_partitioned RENAME TO core_telemetry;
        ALTER TABLE core_telemetry ALTER COLUMN device_id SET NOT NULL, ALTER COLUMN property_id SET NOT NULL,
            ALTER COLUMN ts SET NOT NULL;
    """ + INDEXES,
    "sqlite": "DROP INDEX core_telemetry_ts;",
}
UPKEEP_TABLES = "DROP TABLE core_telemetry_hourly; DROP TABLE core_telemetry_dirty_hour; DROP TABLE core_telemetry_upkeep;"


async def create_upkeep_tables(apps, schema_editor) -> None:
    """The aggregates, dirty hours and upkeep marks; day partitions of raw readings on PostgreSQL."""
    client = schema_editor.client
    await client.execute_script(POSTGRES if client.capabilities.dialect == "postgres" else SQLITE)


async def drop_upkeep_tables(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(UPKEEP_TABLES + UNDO[client.capabilities.dialect])


class Migration(migrations.Migration):
    dependencies = [('tulou', '0011_alerts')]

    initial = False

    operations = [
        ops.RunPython(create_upkeep_tables, drop_upkeep_tables),
    ]
