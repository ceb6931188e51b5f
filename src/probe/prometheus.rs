//! Prometheus probe: one instant query over the HTTP API, reduced to one number.

use std::time::Duration;

use super::observation::Observation;

/// Runs `query` at `url` (the server's base URL). A scalar, or a vector of exactly one
/// series, gives the value; anything else is an error that says how to fix the query.
pub async fn observe_prometheus(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    timeout: Duration,
    bearer_token_env: Option<&str>,
) -> Observation {
    let endpoint = format!("{}/api/v1/query", url.trim_end_matches('/'));
    let target = match reqwest::Url::parse_with_params(&endpoint, [("query", query)]) {
        Ok(u) => u,
        Err(e) => return Observation::failed(format!("`{url}` is not a valid Prometheus URL: {e}")),
    };
    let mut request = client.get(target).timeout(timeout);
    if let Some(var) = bearer_token_env {
        match std::env::var(var) {
            Ok(token) => request = request.bearer_auth(token.trim()),
            Err(_) => {
                return Observation::failed(format!("environment variable {var} (the Prometheus token) is not set"));
            }
        }
    }
    let started = std::time::Instant::now();
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Observation::failed(format!("{endpoint}: {e}")),
    };
    let status = response.status();
    let body: serde_json::Value = match response.json().await {
        Ok(b) => b,
        Err(e) => return Observation::failed(format!("{endpoint}: answer is not Prometheus JSON ({e})")),
    };
    if !status.is_success() || body["status"] != "success" {
        let why = body["error"].as_str().unwrap_or("no error text");
        return Observation::failed(format!("query `{query}` failed with HTTP {status}: {why}"));
    }
    let mut obs = match value_of(&body["data"], query) {
        Ok(v) => Observation { value: Some(v), ..Observation::default() },
        Err(e) => Observation::failed(e),
    };
    obs.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    obs
}

/// The single number in a query result's `data`.
fn value_of(data: &serde_json::Value, query: &str) -> Result<f64, String> {
    let sample = match data["resultType"].as_str() {
        Some("scalar") => &data["result"],
        Some("vector") => {
            let series = data["result"].as_array().map_or(&[][..], |a| a.as_slice());
            match series {
                [] => return Err(format!("query `{query}` returned no series; check the metric name and labels")),
                [one] => &one["value"],
                many => {
                    return Err(format!(
                        "query `{query}` returned {} series; expected one (aggregate with sum()/max() or add label matchers)",
                        many.len()
                    ));
                }
            }
        }
        other => {
            return Err(format!(
                "query `{query}` returned a {}; expected a scalar or an instant vector",
                other.unwrap_or("nothing")
            ));
        }
    };
    let text = sample[1].as_str().ok_or_else(|| format!("query `{query}`: malformed sample {sample}"))?;
    text.parse::<f64>().map_err(|_| format!("query `{query}`: value `{text}` is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reduces_scalar_and_single_series() {
        assert_eq!(value_of(&json!({"resultType": "scalar", "result": [1.0, "7"]}), "q"), Ok(7.0));
        let vector = json!({"resultType": "vector", "result": [{"metric": {}, "value": [1.0, "0.5"]}]});
        assert_eq!(value_of(&vector, "q"), Ok(0.5));
    }

    #[test]
    fn empty_and_many_series_say_how_to_fix_the_query() {
        let empty = json!({"resultType": "vector", "result": []});
        assert!(value_of(&empty, "up").unwrap_err().contains("no series"));
        let many = json!({"resultType": "vector", "result": [{"value": [1, "1"]}, {"value": [1, "2"]}]});
        assert!(value_of(&many, "up").unwrap_err().contains("2 series"));
    }
}
