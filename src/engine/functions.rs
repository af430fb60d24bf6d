//! SQL functions okrflow adds to DataFusion, for rules that are cheap in Rust and costly as
//! SQL expressions over every row of every export.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::buffer::{BooleanBuffer, NullBuffer};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

/// `empty_as_null(text)`: NULL where the text, without surrounding spaces, is empty, `nan` or
/// `NaN` (Tallyfy's spellings of an empty cell), else the text unchanged.
///
/// The same as `CASE WHEN trim(x) IN ('', 'nan', 'NaN') THEN NULL ELSE x END`, but it keeps
/// the strings where they are and only marks cells NULL: the expression copied every string
/// of every export row (BENCHMARKS.md).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EmptyAsNull {
    signature: Signature,
}

impl EmptyAsNull {
    /// The function, to register in a session.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::from(Self {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        })
    }
}

/// Whether a cell is one of Tallyfy's empty values. `trim` in SQL removes spaces only.
fn is_empty(s: &str) -> bool {
    matches!(s.trim_matches(' '), "" | "nan" | "NaN")
}

impl ScalarUDFImpl for EmptyAsNull {
    fn name(&self) -> &str {
        "empty_as_null"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("empty_as_null takes one argument");
        };
        match arg {
            ColumnarValue::Scalar(ScalarValue::Utf8(v)) => Ok(ColumnarValue::Scalar(
                ScalarValue::Utf8(v.clone().filter(|s| !is_empty(s))),
            )),
            ColumnarValue::Array(a) => {
                let Some(s) = a.as_string_opt::<i32>() else {
                    return exec_err!("empty_as_null takes text, not {}", a.data_type());
                };
                let kept = BooleanBuffer::collect_bool(s.len(), |i| {
                    s.is_valid(i) && !is_empty(s.value(i))
                });
                let folded: ArrayRef = Arc::new(StringArray::try_new(
                    s.offsets().clone(),
                    s.values().clone(),
                    Some(NullBuffer::new(kept)),
                )?);
                Ok(ColumnarValue::Array(folded))
            }
            other => exec_err!("empty_as_null takes text, not {}", other.data_type()),
        }
    }
}

/// `try_timestamp(text)`: exactly `TRY_CAST(text AS TIMESTAMP)` (Arrow's own cast, NULL where
/// the text is not a timestamp), but each run of equal neighbouring cells is parsed once.
///
/// The exports repeat a snapshot's times on every row of the snapshot, and parsing text into a
/// timestamp was the largest single cost of finding the snapshots (BENCHMARKS.md).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TryTimestamp {
    signature: Signature,
}

impl TryTimestamp {
    /// The function, to register in a session.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::from(Self {
            signature: Signature::uniform(
                1,
                vec![DataType::Utf8View, DataType::Utf8],
                Volatility::Immutable,
            ),
        })
    }
}

/// The timestamp type `TIMESTAMP` means in SQL.
const TIMESTAMP: DataType =
    DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, None);

/// The first row of each run of equal neighbouring cells (NULLs are equal), and each row's run.
fn runs(len: usize, same_as_previous: impl Fn(usize) -> bool) -> (Vec<u32>, Vec<u32>) {
    let (mut firsts, mut run_of) = (Vec::new(), Vec::with_capacity(len));
    for i in 0..len {
        if i == 0 || !same_as_previous(i) {
            firsts.push(i as u32);
        }
        run_of.push(firsts.len() as u32 - 1);
    }
    (firsts, run_of)
}

impl ScalarUDFImpl for TryTimestamp {
    fn name(&self) -> &str {
        "try_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(TIMESTAMP)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::array::UInt32Array;
        use datafusion::arrow::compute::{CastOptions, cast_with_options, take};
        let options = CastOptions {
            safe: true,
            ..Default::default()
        };
        let [arg] = args.args.as_slice() else {
            return exec_err!("try_timestamp takes one argument");
        };
        let a = match arg {
            ColumnarValue::Scalar(v) => {
                let parsed = cast_with_options(&v.to_array()?, &TIMESTAMP, &options)?;
                return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                    &parsed, 0,
                )?));
            }
            ColumnarValue::Array(a) => a,
        };
        let same = |i: usize, eq: &dyn Fn(usize) -> bool| {
            a.is_null(i) == a.is_null(i - 1) && (a.is_null(i) || eq(i))
        };
        let (firsts, run_of) = if let Some(s) = a.as_string_view_opt() {
            runs(a.len(), |i| same(i, &|i| s.value(i) == s.value(i - 1)))
        } else if let Some(s) = a.as_string_opt::<i32>() {
            runs(a.len(), |i| same(i, &|i| s.value(i) == s.value(i - 1)))
        } else {
            return exec_err!("try_timestamp takes text, not {}", a.data_type());
        };
        let distinct = take(a.as_ref(), &UInt32Array::from(firsts), None)?;
        let parsed = cast_with_options(&distinct, &TIMESTAMP, &options)?;
        Ok(ColumnarValue::Array(take(
            parsed.as_ref(),
            &UInt32Array::from(run_of),
            None,
        )?))
    }
}

/// `round_significant(x, digits)`: `x` rounded to `digits` significant digits, so values
/// okrflow computes (a ratio × 100, an attainment in percent) do not carry float noise such
/// as `98.92999999999999`. NULL, 0, NaN and infinities are returned as they are.
pub fn round_significant() -> ScalarUDF {
    datafusion::logical_expr::create_udf(
        "round_significant",
        vec![DataType::Float64, DataType::Int64],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let (Some(x), Some(d)) = (
                arrays[0].as_primitive_opt::<datafusion::arrow::datatypes::Float64Type>(),
                arrays[1].as_primitive_opt::<datafusion::arrow::datatypes::Int64Type>(),
            ) else {
                return exec_err!("round_significant takes a double and an integer");
            };
            let rounded: datafusion::arrow::array::Float64Array = x
                .iter()
                .zip(d.iter())
                .map(|(x, d)| Some(round_to(x?, d? as i32)))
                .collect();
            let out: ArrayRef = Arc::new(rounded);
            Ok(
                if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
                    ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
                } else {
                    ColumnarValue::Array(out)
                },
            )
        }),
    )
}

fn round_to(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() || digits <= 0 {
        return x;
    }
    let magnitude = x.abs().log10().floor() as i32 + 1;
    let scale = 10f64.powi(digits - magnitude);
    let r = (x * scale).round() / scale;
    if r.is_finite() { r } else { x }
}

#[cfg(test)]
mod tests {
    use crate::engine::new_session;
    use datafusion::arrow::array::{Array, AsArray};

    #[test]
    fn computed_values_lose_their_float_noise() {
        assert_eq!(super::round_to(0.9893 * 100.0, 12), 98.93);
        assert_eq!(super::round_to(98.92999999999999, 12), 98.93);
        assert_eq!(super::round_to(100.0 / 3.0, 12), 33.3333333333);
        assert_eq!(
            super::round_to(-0.000123456789012345, 12),
            -0.000123456789012
        );
        assert_eq!(super::round_to(0.0, 12), 0.0);
        assert!(super::round_to(f64::NAN, 12).is_nan());
    }

    /// The function and the SQL expression it replaces agree on every kind of cell.
    #[tokio::test]
    async fn empty_as_null_matches_the_sql_rule() {
        let ctx = new_session();
        let sql = "SELECT x, empty_as_null(x) AS f, \
                   CASE WHEN trim(x) IN ('', 'nan', 'NaN') THEN NULL ELSE x END AS e \
                   FROM (VALUES ('a'), (''), ('  '), ('nan'), (' NaN '), ('NAN'), ('\tnan'), \
                   (' b '), (NULL)) t(x)";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut nulls = Vec::new();
        for b in &batches {
            let (x, f, e) = (
                b.column(0).as_string::<i32>(),
                b.column(1).as_string::<i32>(),
                b.column(2).as_string::<i32>(),
            );
            for i in 0..b.num_rows() {
                assert_eq!(f.is_null(i), e.is_null(i), "row {i}: {:?}", x.value(i));
                if !f.is_null(i) {
                    assert_eq!(f.value(i), e.value(i));
                } else if !x.is_null(i) {
                    nulls.push(x.value(i).to_string());
                }
            }
        }
        assert_eq!(nulls, ["", "  ", "nan", " NaN "]);
        // A literal is folded too.
        let one = ctx.sql("SELECT empty_as_null(' nan') IS NULL, empty_as_null(' x ')");
        let batches = one.await.unwrap().collect().await.unwrap();
        assert!(batches[0].column(0).as_boolean().value(0));
        assert_eq!(batches[0].column(1).as_string::<i32>().value(0), " x ");
    }

    /// `try_timestamp` gives what `TRY_CAST(… AS TIMESTAMP)` gives, on runs, NULLs, both
    /// forms, empty cells, text, and views as well as plain strings.
    #[tokio::test]
    async fn try_timestamp_matches_try_cast() {
        let ctx = new_session();
        let cells = "('2026-03-01 10:00:00'), ('2026-03-01 10:00:00'), ('2026-03-01T10:00:01'), \
                     (NULL), (NULL), ('2026-03-01 10:00:00'), (''), ('nan'), ('NaN'), ('x'), \
                     ('2026-03-01'), ('2026-03-01T10:00:00+02:00'), (' 2026-03-01 10:00:00'), \
                     ('2026-03-01 10:00:00.250'), ('2026-13-01 10:00:00')";
        for cell in ["x", "arrow_cast(x, 'Utf8View')"] {
            let sql = format!(
                "SELECT CAST(try_timestamp({cell}) AS BIGINT), \
                 CAST(TRY_CAST({cell} AS TIMESTAMP) AS BIGINT) FROM (VALUES {cells}) t(x)"
            );
            let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let rows: Vec<(Option<i64>, Option<i64>)> = batches
                .iter()
                .flat_map(|b| {
                    let (f, c) = (
                        b.column(0)
                            .as_primitive::<datafusion::arrow::datatypes::Int64Type>(),
                        b.column(1)
                            .as_primitive::<datafusion::arrow::datatypes::Int64Type>(),
                    );
                    (0..b.num_rows())
                        .map(|i| {
                            (
                                f.is_valid(i).then(|| f.value(i)),
                                c.is_valid(i).then(|| c.value(i)),
                            )
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(rows.len(), 15);
            for (i, (f, c)) in rows.iter().enumerate() {
                assert_eq!(f, c, "{cell}, row {i}");
            }
            // 10:00:00 UTC on 1 March 2026, and the run of it parsed once still fills both rows.
            assert_eq!(rows[0].0, Some(1_772_359_200_000_000_000));
            assert_eq!(rows[1].0, rows[0].0);
            assert_eq!(rows[5].0, rows[0].0);
            assert_eq!(rows[2].0, Some(1_772_359_201_000_000_000));
            assert!(rows[3].0.is_none() && rows[6].0.is_none() && rows[9].0.is_none());
        }
    }
}
