//! Decoding Prometheus's JSON envelopes.
//!
//! Query results take the hot path: one pass of `serde_json` over the response bytes with
//! hand-written visitors — label names and values are appended straight from the input
//! into a reused [`LabelsBuilder`], sample values are parsed from borrowed strings, and
//! no `serde_json::Value` is built. When a server sends `result` before `resultType`
//! (Prometheus never does), `result` is captured as a borrowed `RawValue` and parsed once
//! the type is known. The other endpoints are small and use derived structs.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess,
    Visitor,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{ErrorType, QueryError};
use crate::value::{Point, QueryResult, QueryValue, Sample, Series};
use tocsin_core::{LabelsBuilder, LabelsSeed};

/// Decodes a complete `/api/v1/query` or `/api/v1/query_range` answer (`http_status` is the
/// response's status code; it ends up in errors).
pub fn decode_query_response(http_status: u16, body: &[u8]) -> Result<QueryResult, QueryError> {
    decode_query(http_status, body, "query response")
}

pub(crate) fn decode_query(
    http_status: u16,
    body: &[u8],
    endpoint: &str,
) -> Result<QueryResult, QueryError> {
    let mut scratch = LabelsBuilder::with_capacity(16, 256);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = EnvelopeSeed {
        scratch: &mut scratch,
    }
    .deserialize(&mut de)
    .and_then(|env| de.end().map(|()| env));
    let env = match parsed {
        Ok(env) => env,
        Err(e) => return Err(undecodable(http_status, body, endpoint, &e)),
    };
    match env.status {
        Some(Status::Success) => match env.value {
            Some(value) => Ok(QueryResult {
                value,
                warnings: env.warnings,
            }),
            None => Err(QueryError::Decode {
                endpoint: endpoint.to_string(),
                message: "\"status\":\"success\" without data.result".into(),
            }),
        },
        Some(Status::Error) => Err(api_error(
            endpoint,
            http_status,
            env.error_type,
            env.error,
            env.warnings,
        )),
        None => Err(undecodable(
            http_status,
            body,
            endpoint,
            &"no \"status\" field",
        )),
    }
}

/// Decodes the envelope of the non-query endpoints, `data` into `T`.
pub(crate) fn decode_envelope<T: DeserializeOwned>(
    http_status: u16,
    body: &[u8],
    endpoint: &str,
) -> Result<T, QueryError> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        status: Status,
        #[serde(borrow, default)]
        data: Option<&'a RawValue>,
        #[serde(rename = "errorType", default)]
        error_type: Option<String>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        warnings: Vec<String>,
    }
    let env: Envelope<'_> =
        serde_json::from_slice(body).map_err(|e| undecodable(http_status, body, endpoint, &e))?;
    match env.status {
        Status::Error => Err(api_error(
            endpoint,
            http_status,
            env.error_type,
            env.error,
            env.warnings,
        )),
        Status::Success => {
            let raw = env.data.ok_or_else(|| QueryError::Decode {
                endpoint: endpoint.to_string(),
                message: "\"status\":\"success\" without data".into(),
            })?;
            serde_json::from_str(raw.get()).map_err(|e| QueryError::Decode {
                endpoint: endpoint.to_string(),
                message: e.to_string(),
            })
        }
    }
}

fn api_error(
    endpoint: &str,
    status: u16,
    error_type: Option<String>,
    error: Option<String>,
    warnings: Vec<String>,
) -> QueryError {
    QueryError::Api {
        endpoint: endpoint.to_string(),
        status,
        error_type: ErrorType::parse(error_type.as_deref().unwrap_or("")),
        message: error.unwrap_or_default(),
        warnings,
    }
}

/// A body that is not the expected JSON: an HTTP error when the status says so, else a
/// decode error.
fn undecodable(
    http_status: u16,
    body: &[u8],
    endpoint: &str,
    err: &dyn fmt::Display,
) -> QueryError {
    if (200..300).contains(&http_status) {
        QueryError::Decode {
            endpoint: endpoint.to_string(),
            message: err.to_string(),
        }
    } else {
        QueryError::Http {
            endpoint: endpoint.to_string(),
            status: http_status,
            body: excerpt(body),
        }
    }
}

fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 512;
    let cut = &body[..body.len().min(MAX)];
    let mut s = String::from_utf8_lossy(cut).trim().to_string();
    if body.len() > MAX {
        s.push('…');
    }
    s
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Status {
    Success,
    Error,
}

struct Envelope {
    status: Option<Status>,
    value: Option<QueryValue>,
    error_type: Option<String>,
    error: Option<String>,
    warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum EnvelopeField {
    #[serde(rename = "status")]
    Status,
    #[serde(rename = "data")]
    Data,
    #[serde(rename = "errorType")]
    ErrorType,
    #[serde(rename = "error")]
    Error,
    #[serde(rename = "warnings")]
    Warnings,
    #[serde(other)]
    Other,
}

struct EnvelopeSeed<'s> {
    scratch: &'s mut LabelsBuilder,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = Envelope;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Envelope, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = Envelope;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Prometheus API response object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let mut env = Envelope {
            status: None,
            value: None,
            error_type: None,
            error: None,
            warnings: Vec::new(),
        };
        while let Some(field) = map.next_key::<EnvelopeField>()? {
            match field {
                EnvelopeField::Status => env.status = Some(map.next_value()?),
                // An error answer's `data` (if any) is not a query result: skip it.
                EnvelopeField::Data if matches!(env.status, Some(Status::Error)) => {
                    map.next_value::<IgnoredAny>()?;
                }
                EnvelopeField::Data => {
                    env.value = map.next_value_seed(DataSeed {
                        scratch: &mut *self.scratch,
                    })?;
                }
                EnvelopeField::ErrorType => env.error_type = map.next_value()?,
                EnvelopeField::Error => env.error = map.next_value()?,
                EnvelopeField::Warnings => {
                    env.warnings = map.next_value::<Option<Vec<String>>>()?.unwrap_or_default();
                }
                EnvelopeField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(env)
    }
}

#[derive(Deserialize, Clone, Copy)]
#[serde(field_identifier)]
enum DataField {
    #[serde(rename = "resultType")]
    ResultType,
    #[serde(rename = "result")]
    Result,
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum ResultType {
    Vector,
    Scalar,
    String,
    Matrix,
}

struct DataSeed<'s> {
    scratch: &'s mut LabelsBuilder,
}

impl<'de> DeserializeSeed<'de> for DataSeed<'_> {
    type Value = Option<QueryValue>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_> {
    type Value = Option<QueryValue>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with resultType and result")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut ty: Option<ResultType> = None;
        let mut value: Option<QueryValue> = None;
        let mut raw: Option<&'de RawValue> = None;
        while let Some(field) = map.next_key::<DataField>()? {
            match (field, ty) {
                (DataField::ResultType, _) => ty = Some(map.next_value()?),
                (DataField::Result, Some(t)) => {
                    value = Some(map.next_value_seed(ResultSeed {
                        ty: t,
                        scratch: &mut *self.scratch,
                    })?);
                }
                (DataField::Result, None) => raw = Some(map.next_value()?),
                (DataField::Other, _) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let ty = ty.ok_or_else(|| de::Error::missing_field("resultType"))?;
        if let (None, Some(raw)) = (&value, raw) {
            let mut de = serde_json::Deserializer::from_str(raw.get());
            let seed = ResultSeed {
                ty,
                scratch: self.scratch,
            };
            value = Some(seed.deserialize(&mut de).map_err(de::Error::custom)?);
        }
        value
            .map(Some)
            .ok_or_else(|| de::Error::missing_field("result"))
    }
}

struct ResultSeed<'s> {
    ty: ResultType,
    scratch: &'s mut LabelsBuilder,
}

impl<'de> DeserializeSeed<'de> for ResultSeed<'_> {
    type Value = QueryValue;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<QueryValue, D::Error> {
        match self.ty {
            ResultType::Vector => d
                .deserialize_seq(SeqOf::<SampleElem>::new(self.scratch))
                .map(QueryValue::Vector),
            ResultType::Matrix => d
                .deserialize_seq(SeqOf::<SeriesElem>::new(self.scratch))
                .map(QueryValue::Matrix),
            ResultType::Scalar => {
                let p = WirePoint::deserialize(d)?;
                Ok(QueryValue::Scalar {
                    timestamp_ms: p.0.timestamp_ms,
                    value: p.0.value,
                })
            }
            ResultType::String => {
                let (ts, value) = <(f64, String)>::deserialize(d)?;
                Ok(QueryValue::String {
                    timestamp_ms: seconds_to_ms(ts),
                    value,
                })
            }
        }
    }
}

/// A sequence whose elements are decoded by `S` with the shared scratch builder.
struct SeqOf<'s, S> {
    scratch: &'s mut LabelsBuilder,
    _elem: PhantomData<S>,
}

impl<'s, S> SeqOf<'s, S> {
    fn new(scratch: &'s mut LabelsBuilder) -> Self {
        SeqOf {
            scratch,
            _elem: PhantomData,
        }
    }
}

impl<'de, S: ElementSeed<'de>> Visitor<'de> for SeqOf<'_, S> {
    type Value = Vec<S::Output>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of samples or series")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(v) = seq.next_element_seed(ElementAdapter::<S> {
            scratch: &mut *self.scratch,
            _elem: PhantomData,
        })? {
            out.push(v);
        }
        Ok(out)
    }
}

/// Decodes one element (sample or series) using the scratch builder.
trait ElementSeed<'de> {
    type Output;
    fn decode<D: Deserializer<'de>>(
        scratch: &mut LabelsBuilder,
        d: D,
    ) -> Result<Self::Output, D::Error>;
}

struct ElementAdapter<'s, S> {
    scratch: &'s mut LabelsBuilder,
    _elem: PhantomData<S>,
}

impl<'de, S: ElementSeed<'de>> DeserializeSeed<'de> for ElementAdapter<'_, S> {
    type Value = S::Output;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Output, D::Error> {
        S::decode(self.scratch, d)
    }
}

struct SampleElem;
struct SeriesElem;

#[derive(Deserialize)]
#[serde(field_identifier)]
enum SeriesField {
    #[serde(rename = "metric")]
    Metric,
    #[serde(rename = "value")]
    Value,
    #[serde(rename = "values")]
    Values,
    #[serde(rename = "histogram")]
    Histogram,
    #[serde(rename = "histograms")]
    Histograms,
    #[serde(other)]
    Other,
}

struct SampleVisitor<'s>(&'s mut LabelsBuilder);

impl<'de> Visitor<'de> for SampleVisitor<'_> {
    type Value = Sample;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a vector sample {metric, value}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Sample, A::Error> {
        let mut labels = None;
        let mut point: Option<Point> = None;
        while let Some(field) = map.next_key::<SeriesField>()? {
            match field {
                SeriesField::Metric => labels = Some(map.next_value_seed(LabelsSeed(self.0))?),
                SeriesField::Value => point = Some(map.next_value::<WirePoint>()?.0),
                SeriesField::Histogram | SeriesField::Histograms => {
                    return Err(de::Error::custom(
                        "native histogram samples are not supported",
                    ))
                }
                SeriesField::Values | SeriesField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let point = point.ok_or_else(|| de::Error::missing_field("value"))?;
        Ok(Sample {
            labels: labels.unwrap_or_default(),
            timestamp_ms: point.timestamp_ms,
            value: point.value,
        })
    }
}

impl<'de> ElementSeed<'de> for SampleElem {
    type Output = Sample;
    fn decode<D: Deserializer<'de>>(s: &mut LabelsBuilder, d: D) -> Result<Sample, D::Error> {
        d.deserialize_map(SampleVisitor(s))
    }
}

struct SeriesVisitor<'s>(&'s mut LabelsBuilder);

impl<'de> Visitor<'de> for SeriesVisitor<'_> {
    type Value = Series;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a matrix series {metric, values}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Series, A::Error> {
        let mut labels = None;
        let mut points = Vec::new();
        while let Some(field) = map.next_key::<SeriesField>()? {
            match field {
                SeriesField::Metric => labels = Some(map.next_value_seed(LabelsSeed(self.0))?),
                SeriesField::Values => {
                    points = map
                        .next_value::<Vec<WirePoint>>()?
                        .into_iter()
                        .map(|p| p.0)
                        .collect();
                }
                SeriesField::Histogram | SeriesField::Histograms => {
                    return Err(de::Error::custom(
                        "native histogram samples are not supported",
                    ))
                }
                SeriesField::Value | SeriesField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Series {
            labels: labels.unwrap_or_default(),
            points,
        })
    }
}

impl<'de> ElementSeed<'de> for SeriesElem {
    type Output = Series;
    fn decode<D: Deserializer<'de>>(s: &mut LabelsBuilder, d: D) -> Result<Series, D::Error> {
        d.deserialize_map(SeriesVisitor(s))
    }
}

/// `[<seconds>, "<value>"]`.
#[repr(transparent)]
struct WirePoint(Point);

impl<'de> Deserialize<'de> for WirePoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WirePoint, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WirePoint;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a [timestamp, \"value\"] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WirePoint, A::Error> {
                let ts: f64 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let value = seq
                    .next_element_seed(FloatStr)?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(WirePoint(Point {
                    timestamp_ms: seconds_to_ms(ts),
                    value,
                }))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A sample value string: decimal, exponent, `NaN`, `+Inf`, `-Inf`.
struct FloatStr;

impl<'de> DeserializeSeed<'de> for FloatStr {
    type Value = f64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<f64, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FloatStr {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sample value string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        parse_float(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// Parses Prometheus's float strings (Go `strconv.ParseFloat` forms it emits).
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        // Rust's parser also takes "inf"/"nan" spellings; Go's output never needs more.
        _ => s.parse().ok(),
    }
}

/// Float seconds (ms precision on the wire) to integer milliseconds.
fn seconds_to_ms(secs: f64) -> i64 {
    (secs * 1000.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use tocsin_core::Labels;

    fn ok(body: &str) -> QueryResult {
        decode_query_response(200, body.as_bytes()).unwrap()
    }

    #[test]
    fn vectors_keep_labels_sorted_and_timestamps_in_ms() {
        let r = ok(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"prometheus","__name__":"up","instance":"127.0.0.1:19090"},"value":[1795480006.890,"1"]},{"metric":{},"value":[1700000000,"0.30000000000000004"]}]}}"#,
        );
        let QueryValue::Vector(v) = r.value else {
            panic!("{:?}", r.value)
        };
        assert_eq!(v.len(), 2);
        assert_eq!(
            v[0].labels.to_string(),
            r#"{__name__="up", instance="127.0.0.1:19090", job="prometheus"}"#
        );
        assert_eq!(v[0].timestamp_ms, 1_795_480_006_890);
        assert_eq!(v[1].labels, Labels::empty());
        assert_eq!(v[1].timestamp_ms, 1_700_000_000_000);
        assert_eq!(v[1].value, 0.30000000000000004);
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn special_and_exponent_values_parse() {
        for (text, want) in [
            ("NaN", f64::NAN),
            ("+Inf", f64::INFINITY),
            ("-Inf", f64::NEG_INFINITY),
            ("1e-07", 1e-7),
            ("1e+21", 1e21),
            ("100000000000000000000", 1e20),
        ] {
            let body = format!(
                r#"{{"status":"success","data":{{"resultType":"scalar","result":[1795480006.91,"{text}"]}}}}"#
            );
            let QueryValue::Scalar {
                timestamp_ms,
                value,
            } = ok(&body).value
            else {
                panic!()
            };
            assert_eq!(timestamp_ms, 1_795_480_006_910);
            assert!(
                value == want || (value.is_nan() && want.is_nan()),
                "{text}: {value}"
            );
        }
    }

    #[test]
    fn strings_and_matrices_decode() {
        let s = ok(
            r#"{"status":"success","data":{"resultType":"string","result":[1795480006.933,"hello"]}}"#,
        );
        assert_eq!(
            s.value,
            QueryValue::String {
                timestamp_ms: 1_795_480_006_933,
                value: "hello".into()
            }
        );
        let m = ok(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1795479994.899,"1"],[1795479999.899,"2"]]}]}}"#,
        );
        let QueryValue::Matrix(series) = m.value else {
            panic!()
        };
        assert_eq!(series[0].labels.get("a"), Some("b"));
        assert_eq!(
            series[0].points,
            [
                Point {
                    timestamp_ms: 1_795_479_994_899,
                    value: 1.0
                },
                Point {
                    timestamp_ms: 1_795_479_999_899,
                    value: 2.0
                }
            ]
        );
    }

    #[test]
    fn result_before_result_type_still_decodes() {
        let r = ok(
            r#"{"data":{"result":[{"value":[1,"2"],"metric":{"b":"1","a":"2"}}],"resultType":"vector"},"status":"success","warnings":["w1"]}"#,
        );
        let QueryValue::Vector(v) = r.value else {
            panic!()
        };
        assert_eq!(v[0].labels.to_string(), r#"{a="2", b="1"}"#);
        assert_eq!(r.warnings, ["w1"]);
    }

    #[test]
    fn error_bodies_keep_type_message_status_and_warnings() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:6: parse error","warnings":["w"]}"#;
        match decode_query_response(400, body.as_bytes()).unwrap_err() {
            QueryError::Api {
                status,
                error_type,
                message,
                warnings,
                ..
            } => {
                assert_eq!(status, 400);
                assert_eq!(error_type, ErrorType::BadData);
                assert_eq!(message, "invalid parameter \"query\": 1:6: parse error");
                assert_eq!(warnings, ["w"]);
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_proxy_error_page_is_an_http_error_and_retryable() {
        let e = decode_query_response(502, b"<html>Bad Gateway</html>").unwrap_err();
        assert!(
            matches!(&e, QueryError::Http { status: 502, body, .. } if body.contains("Bad Gateway")),
            "{e:?}"
        );
        assert!(e.is_retryable());
    }

    #[test]
    fn malformed_success_bodies_are_decode_errors() {
        for body in [
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{}]}]}}"#,
            r#"{"status":"success","data":{"resultType":"blob","result":[]}}"#,
            r#"{"status":"success"}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":[]}} trailing"#,
        ] {
            let e = decode_query_response(200, body.as_bytes()).unwrap_err();
            assert!(matches!(e, QueryError::Decode { .. }), "{body}: {e:?}");
            assert!(!e.is_retryable());
        }
    }

    #[test]
    fn other_endpoints_decode_through_the_envelope() {
        let body = br#"{"status":"success","data":{"version":"2.42.0+ds","revision":"r","branch":"b","buildUser":"u","buildDate":"d","goVersion":"go1.19.8"}}"#;
        let bi: crate::BuildInfo = decode_envelope(200, body, "x").unwrap();
        assert_eq!(bi.semver(), Some((2, 42, 0)));
        let err = decode_envelope::<crate::BuildInfo>(
            404,
            br#"{"status":"error","errorType":"not_found","error":"nope"}"#,
            "x",
        )
        .unwrap_err();
        assert_eq!(err.error_type(), Some(&ErrorType::NotFound));
        assert_eq!(err.http_status(), Some(404));
    }

    #[test]
    fn rules_decode_the_captured_242_shape() {
        let body = br#"{"status":"success","data":{"groups":[
 {"name":"alerts","file":"rules/a.yml","interval":5,"limit":0,
  "evaluationTime":0.001183666,"lastEvaluation":"2026-11-24T00:26:53.827741151Z",
  "rules":[
   {"type":"alerting","state":"pending","name":"PendingLong","query":"up == 1",
    "duration":3600,"keepFiringFor":300,
    "labels":{"severity":"warn"},"annotations":{"description":"{{ $labels.instance }} up"},
    "alerts":[{"labels":{"alertname":"PendingLong","instance":"127.0.0.1:19090","job":"prometheus","severity":"warn"},
               "annotations":{"description":"127.0.0.1:19090 up"},"state":"pending",
               "activeAt":"2026-11-24T00:26:28.826202645Z","value":"1e+00"}],
    "health":"ok","evaluationTime":0.000254045,"lastEvaluation":"2026-11-24T00:26:53.828222392Z"},
   {"type":"recording","name":"limited:series","query":"up or vector(2)",
    "health":"err","lastError":"exceeded limit of 1 with 2 series",
    "evaluationTime":0.000409036,"lastEvaluation":"2026-11-24T00:26:56.132562927Z"}]}]}}"#;
        let data: crate::api::RulesData = decode_envelope(200, body, "x").unwrap();
        let g = &data.groups[0];
        assert_eq!((g.name.as_str(), g.interval), ("alerts", 5.0));
        let crate::Rule::Alerting(a) = &g.rules[0] else {
            panic!()
        };
        assert_eq!(a.keep_firing_for, 300.0);
        assert_eq!(a.alerts[0].state, crate::AlertState::Pending);
        assert_eq!(a.alerts[0].value_f64(), Some(1.0));
        assert_eq!(a.alerts[0].labels.get("alertname"), Some("PendingLong"));
        let crate::Rule::Recording(r) = &g.rules[1] else {
            panic!()
        };
        assert_eq!(r.health, crate::RuleHealth::Err);
        assert!(r.labels.is_empty());
        assert_eq!(
            r.last_error.as_deref(),
            Some("exceeded limit of 1 with 2 series")
        );
    }
}
