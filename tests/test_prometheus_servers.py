"""The server-metrics tests' real Prometheus and node_exporter come up and scrape on loopback."""

from __future__ import annotations

import urllib.request

from tests.prometheus_servers import node_exporter_url, prometheus_server, scrape_config, wait_for_samples


def test_scrape_config_names_one_job_per_url_with_its_path() -> None:
    config = scrape_config(["http://127.0.0.1:9100/metrics", "http://127.0.0.1:8089/stats/metrics?x=1"], 0.5)
    jobs = config["scrape_configs"]
    assert isinstance(jobs, list)
    assert [(j["job_name"], j["metrics_path"], j["static_configs"]) for j in jobs] == [
        ("job0", "/metrics", [{"targets": ["127.0.0.1:9100"]}]),
        ("job1", "/stats/metrics", [{"targets": ["127.0.0.1:8089"]}]),
    ]
    assert jobs[1]["params"] == {"x": ["1"]}
    assert jobs[0]["scrape_interval"] == "500ms"


def test_node_exporter_serves_host_metrics_on_loopback() -> None:
    url = node_exporter_url()
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    assert "node_cpu_seconds_total" in text
    assert node_exporter_url() == url  # one per session


def test_prometheus_scrapes_node_exporter_and_answers_range_queries() -> None:
    with prometheus_server([node_exporter_url()], interval_s=0.5) as base:
        up = wait_for_samples(base, 'up{job="job0"} == 1')
        assert up[0]["metric"]["instance"] == node_exporter_url().split("/")[2]
        cpus = wait_for_samples(base, "count(node_cpu_seconds_total)")
        assert float(cpus[0]["value"][1]) >= 1
