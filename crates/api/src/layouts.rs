//! What compositions and composition hooks share on the wire: their spec parameters
//! (`VideoLayout`, `AudioSources`, `AudioSourcesExcluded`, `Resolution`, `Format`, `Trim`,
//! `StatusCallback`, `StatusCallbackMethod`) read from a form, and the `video_layout` JSON they
//! answer with (every field of every region, defaults included, as Twilio shows them).
//!
//! <https://www.twilio.com/docs/video/api/compositions-resource#specifying-video-layouts>

use serde_json::{Map, Value, json};
use vroom_domain::composition::{CompositionFormat, CompositionSpec, Resolution, SpecError};
use vroom_domain::layout::{Region, Reuse, VideoLayout};
use vroom_domain::room::CallbackMethod;

use crate::error::{ApiError, ApiResult};
use crate::form::Params;

const REGION_FIELDS: &str = "video_sources, video_sources_excluded, reuse, x_pos, y_pos, z_pos, \
    width, height, max_columns, max_rows, cells_excluded";

fn layout_error(problem: impl Into<String>) -> ApiError {
    ApiError::param("VideoLayout", problem)
}

fn strings(region: &str, field: &str, v: &Value) -> ApiResult<Vec<String>> {
    let bad = || layout_error(format!("{region}.{field} must be an array of strings"));
    match v {
        // A lone string is taken as a list of one, as Twilio does.
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|s| s.as_str().map(str::to_owned).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

fn number<T: TryFrom<i64>>(region: &str, field: &str, v: &Value) -> ApiResult<T> {
    v.as_i64()
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| layout_error(format!("{region}.{field} is not a number in range")))
}

fn region(name: &str, v: &Value) -> ApiResult<Region> {
    let Value::Object(fields) = v else {
        return Err(layout_error(format!(
            "region '{name}' must be a JSON object"
        )));
    };
    let mut r = Region::grid(name, Vec::new());
    for (k, v) in fields {
        match k.as_str() {
            "video_sources" => r.video_sources = strings(name, k, v)?,
            "video_sources_excluded" => r.video_sources_excluded = strings(name, k, v)?,
            "reuse" => {
                r.reuse = v.as_str().and_then(Reuse::parse).ok_or_else(|| {
                    layout_error(format!(
                        "{name}.reuse must be none, show_oldest or show_newest"
                    ))
                })?;
            }
            "x_pos" => r.x_pos = number(name, k, v)?,
            "y_pos" => r.y_pos = number(name, k, v)?,
            "z_pos" => r.z_pos = number(name, k, v)?,
            "width" => r.width = number(name, k, v)?,
            "height" => r.height = number(name, k, v)?,
            "max_columns" => r.max_columns = number(name, k, v)?,
            "max_rows" => r.max_rows = number(name, k, v)?,
            "cells_excluded" => {
                let Value::Array(cells) = v else {
                    return Err(layout_error(format!(
                        "{name}.cells_excluded must be an array of cell numbers"
                    )));
                };
                r.cells_excluded = cells
                    .iter()
                    .map(|c| number(name, k, c))
                    .collect::<ApiResult<_>>()?;
            }
            other => {
                return Err(layout_error(format!(
                    "region '{name}' has no field '{}' (fields: {REGION_FIELDS})",
                    crate::form::shorten(other)
                )));
            }
        }
    }
    Ok(r)
}

/// Parses `VideoLayout`: a JSON object of regions by name.
fn video_layout(text: &str) -> ApiResult<VideoLayout> {
    let Ok(Value::Object(regions)) = serde_json::from_str::<Value>(text) else {
        return Err(layout_error(
            "must be a JSON object of regions, such as {\"grid\": {\"video_sources\": [\"*\"]}}",
        ));
    };
    Ok(VideoLayout {
        regions: regions
            .iter()
            .map(|(name, v)| region(name, v))
            .collect::<ApiResult<_>>()?,
    })
}

/// Reads the spec parameters over `base` (the defaults, or a hook's spec being updated), then
/// checks Twilio's rules.
///
/// # Errors
/// `BadParameter` naming the first parameter that is wrong.
pub(crate) fn spec(p: &Params, base: CompositionSpec) -> ApiResult<CompositionSpec> {
    let mut s = base;
    if let Some(text) = p.get("VideoLayout") {
        s.video_layout = video_layout(text)?;
    }
    if p.get("AudioSources").is_some() {
        s.audio_sources = p
            .all("AudioSources")
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if p.get("AudioSourcesExcluded").is_some() {
        s.audio_sources_excluded = p
            .all("AudioSourcesExcluded")
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if let Some(r) = p.get("Resolution") {
        s.resolution = Resolution::parse(r)?;
    }
    if let Some(f) = p.get("Format") {
        s.format = CompositionFormat::parse(f).ok_or_else(|| {
            SpecError::new(
                "Format",
                format!("'{}' is not mp4 or webm", crate::form::shorten(f)),
            )
        })?;
    }
    if let Some(t) = p.boolean("Trim")? {
        s.trim = t;
    }
    if let Some(url) = p.get("StatusCallback") {
        s.status_callback = Some(url.to_owned()).filter(|u| !u.is_empty());
    }
    if let Some(m) = p.get("StatusCallbackMethod") {
        s.status_callback_method = CallbackMethod::parse(m)?;
    }
    s.validate()?;
    Ok(s)
}

/// `video_layout` as Twilio answers it: every region with every field.
pub(crate) fn layout_json(layout: &VideoLayout) -> Value {
    let mut m = Map::new();
    for r in &layout.regions {
        m.insert(
            r.name.clone(),
            json!({
                "video_sources": r.video_sources,
                "video_sources_excluded": r.video_sources_excluded,
                "reuse": r.reuse.as_str(),
                "x_pos": r.x_pos,
                "y_pos": r.y_pos,
                "z_pos": r.z_pos,
                "width": r.width,
                "height": r.height,
                "max_columns": r.max_columns,
                "max_rows": r.max_rows,
                "cells_excluded": r.cells_excluded,
            }),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<CompositionSpec, String> {
        spec(&Params::parse(body.as_bytes()), CompositionSpec::default()).map_err(|e| e.message())
    }

    #[test]
    fn reads_layouts_sources_and_options() {
        let layout = r#"{"grid":{"video_sources":["*"],"max_columns":2},"pip":{"video_sources":"RT0123456789abcdef0123456789abcdef","x_pos":10,"z_pos":-1,"width":100,"height":80,"cells_excluded":[0]}}"#;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("VideoLayout", layout)
            .append_pair("AudioSources", "alice*")
            .append_pair("AudioSources", "bob")
            .append_pair("AudioSourcesExcluded", "carol")
            .append_pair("Resolution", "1280x720")
            .append_pair("Format", "webm")
            .append_pair("Trim", "false")
            .append_pair("StatusCallback", "https://example.com/c")
            .append_pair("StatusCallbackMethod", "get")
            .finish();
        let s = parse(&body).unwrap();
        assert_eq!(s.video_layout.regions.len(), 2);
        assert_eq!(s.video_layout.regions[0].name, "grid", "the order given");
        assert_eq!(s.video_layout.regions[1].video_sources.len(), 1);
        assert_eq!(
            (
                s.video_layout.regions[1].x_pos,
                s.video_layout.regions[1].z_pos
            ),
            (10, -1)
        );
        assert_eq!(s.audio_sources, ["alice*", "bob"]);
        assert_eq!(
            (s.resolution.to_string(), s.format, s.trim),
            ("1280x720".to_owned(), CompositionFormat::Webm, false)
        );
        assert_eq!(s.status_callback_method, CallbackMethod::Get);
        let back = layout_json(&s.video_layout);
        assert_eq!(back["grid"]["reuse"], "show_oldest");
        assert_eq!(back["pip"]["cells_excluded"], json!([0]));
    }

    #[test]
    fn names_what_is_wrong() {
        for (body, param) in [
            ("", "VideoLayout"),
            ("VideoLayout=nope", "VideoLayout"),
            ("VideoLayout=%5B%5D", "VideoLayout"),
            (
                "VideoLayout=%7B%22g%22%3A%7B%22colour%22%3A1%7D%7D",
                "VideoLayout",
            ),
            (
                "VideoLayout=%7B%22g%22%3A%7B%22x_pos%22%3A-5%7D%7D",
                "VideoLayout",
            ),
            (
                "VideoLayout=%7B%22g%22%3A%7B%22reuse%22%3A%22all%22%7D%7D",
                "VideoLayout",
            ),
            ("AudioSources=*&Resolution=big", "Resolution"),
            ("AudioSources=*&Format=avi", "Format"),
            ("AudioSources=*&Trim=maybe", "Trim"),
            ("AudioSources=*&StatusCallback=nope", "StatusCallback"),
        ] {
            let e = parse(body).unwrap_err();
            assert!(e.contains(param), "{body}: {e}");
        }
        let e = spec(
            &Params::parse(b"AudioSources=*&StatusCallbackMethod=PUT"),
            CompositionSpec::default(),
        )
        .unwrap_err();
        assert_eq!(e.twilio_code(), 53110);
    }
}
