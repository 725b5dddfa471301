import polars as pl
import pytest

from ingest.schema import AUTH_SCHEMA, SchemaError, conform, validate


def _row(**over):
    row = {
        "time": 10,
        "src_user": "U1@DOM1",
        "dst_user": "U1@DOM1",
        "src_host": "C1",
        "dst_host": "C2",
        "auth_type": "Kerberos",
        "logon_type": "Network",
        "orientation": "LogOn",
        "success": True,
        "source": "test",
    }
    row.update(over)
    return row


def test_conform_adds_optional_columns_in_order():
    out = conform(pl.DataFrame([_row()])).collect()
    assert out.schema == AUTH_SCHEMA
    assert out["event_code"].to_list() == [None]


def test_conform_names_every_missing_column():
    with pytest.raises(SchemaError, match="src_host, dst_host"):
        conform(
            pl.DataFrame({"time": [1]}).with_columns(
                *[
                    pl.lit("x").alias(c)
                    for c in (
                        "src_user",
                        "dst_user",
                        "auth_type",
                        "logon_type",
                        "orientation",
                        "source",
                    )
                ],
                pl.lit(True).alias("success"),
            )
        )


def test_validate_reports_bad_rows_instead_of_crashing():
    rows = [
        _row(),
        _row(time="abc"),
        _row(time=-5),
        _row(src_host=""),
        _row(dst_host=None),
        _row(time="7"),
    ]
    df = pl.DataFrame(rows, schema_overrides={"time": pl.String})
    report = validate(df)
    assert report.valid.height == 2
    assert report.valid["time"].to_list() == [10, 7]
    assert report.bad_rows == 4
    assert report.reasons == {
        "null time": 1,
        "negative time": 1,
        "empty src_host": 1,
        "empty dst_host": 1,
    }
    assert report.examples["null time"][0]["time"] == "abc"
    assert "1 rows: null time" in report.describe()


def test_validate_clean_frame_has_no_reasons():
    report = validate(pl.DataFrame([_row(), _row(time=11)]))
    assert report.bad_rows == 0 and report.reasons == {} and report.valid.height == 2
