//! The OTLP sink over TLS: the collector's certificate is verified against `ca_file`
//! and the agent presents its client certificate (mutual TLS).

use crate::common;
use crate::common::otlp as receiver;

use common::Harness;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::LogsServiceServer;
use receiver::*;
use std::sync::Arc;

#[tokio::test]
async fn tls_with_ca_file_and_client_certificates_is_verified_both_ways() {
    let pki = tempfile::tempdir().unwrap();
    common::make_pki(pki.path());
    let read = |name: &str| std::fs::read(pki.path().join(name)).unwrap();
    let address = free_address();
    let received = Arc::new(Received::default());
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            read("server.pem"),
            read("server.key"),
        ))
        .client_ca_root(tonic::transport::Certificate::from_pem(read("ca.pem")));
    let service = LogsServiceServer::new(Grpc(received.clone()))
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let server = tonic::transport::Server::builder()
        .tls_config(tls)
        .unwrap()
        .add_service(service)
        .serve(address);
    tokio::spawn(server);
    let path = |name: &str| pki.path().join(name).display().to_string();
    // --once gives up on a refusing sink after its retry_max_duration.
    let endpoint = format!(
        "endpoint = \"https://localhost:{}\"\nretry_max_duration = \"2s\"",
        address.port()
    );

    // Without our CA the server's certificate is not trusted; without a client
    // certificate the server refuses us. Neither delivers anything.
    for otlp in [
        format!(
            "{endpoint}\nclient_certificate = \"{}\"\nclient_private_key = \"{}\"",
            path("client.pem"),
            path("client.key")
        ),
        format!("{endpoint}\nca_file = \"{}\"", path("ca.pem")),
    ] {
        let harness = Harness::start(options()).await;
        let report = harness.once(&config(&harness, &otlp, false)).await;
        assert_eq!(report.exit_code(), 1, "{otlp}");
        assert!(received.records().is_empty());
    }

    let harness = Harness::start(options()).await;
    let otlp = format!(
        "{endpoint}\nca_file = \"{}\"\nclient_certificate = \"{}\"\nclient_private_key = \"{}\"",
        path("ca.pem"),
        path("client.pem"),
        path("client.key")
    );
    let report = harness.once(&config(&harness, &otlp, false)).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    assert_every_row_once(&harness, &received);
}
