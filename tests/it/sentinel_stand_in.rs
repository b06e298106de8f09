//! The simulator's Logs Ingestion stand-in answers as the documented API does: a token
//! for Azure Monitor's audience only (a Graph token is refused), 400 for a reserved
//! column name, 413 over 1 MB, 204 for a good record.

use crate::common;

use common::Harness;
use pstn_agent::simulate::SimulatorOptions;

const DCR: &str = "dcr-0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn the_stand_in_refuses_graph_tokens_reserved_columns_and_bodies_over_1_mb() {
    let harness = Harness::start(SimulatorOptions {
        client_secret: Some("secret".into()),
        ..SimulatorOptions::default()
    })
    .await;
    let url = harness.simulator.url();
    let http = pstn_agent::topology::http_client().unwrap();
    let token = |scope: &str| {
        let (http, url) = (http.clone(), url.clone());
        let scope = scope.to_owned();
        async move {
            let answer = http
                .post(format!("{url}/t/oauth2/v2.0/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs([
                            ("grant_type", "client_credentials"),
                            ("client_id", "c"),
                            ("client_secret", "secret"),
                            ("scope", scope.as_str()),
                        ])
                        .finish(),
                )
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
            answer["access_token"].as_str().unwrap().to_owned()
        }
    };
    let post = |token: String, body: String| {
        let http = http.clone();
        let target = format!(
            "{url}/dataCollectionRules/{DCR}/streams/Custom-PstnCalls?api-version=2023-01-01"
        );
        async move {
            http.post(target)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let monitor = token("https://monitor.azure.com//.default").await;
    let graph = token(&format!("{url}/.default")).await;
    let good = r#"[{"TimeGenerated":"2024-05-20T10:00:00Z","rowId":"a"}]"#.to_owned();
    assert_eq!(
        post(graph, good.clone()).await,
        401,
        "a Graph token is refused"
    );
    assert_eq!(post(monitor.clone(), good).await, 204);
    for reserved in ["id", "TenantId", "Type", "_ResourceId", "_anything"] {
        let body = format!(r#"[{{"TimeGenerated":"2024-05-20T10:00:00Z","{reserved}":"x"}}]"#);
        assert_eq!(post(monitor.clone(), body).await, 400, "{reserved}");
    }
    let big = format!(
        r#"[{{"TimeGenerated":"2024-05-20T10:00:00Z","x":"{}"}}]"#,
        "x".repeat(1024 * 1024)
    );
    assert_eq!(post(monitor, big).await, 413);
}
