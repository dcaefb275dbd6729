"""Server-side metrics beside the load: what a metrics source of a target measures, pure.

* ``series``     a source's named series (expression, unit, optional limit), their parsing and
                 the node_exporter presets.
* ``scrape``     the Prometheus text format (parsed by ``prometheus_client``) evaluated for a
                 series expression, rates from two scrapes.
* ``prometheus`` the range query API of a Prometheus server: the request and its answer.
* ``fetch``      the one outbound GET: pinned to the checked address, no redirects, a timeout
                 and a size cap.
* ``steps``      per-step steady values, the saturated series at the knee, and how well each
                 series tracks latency.

No Django: the parent side of a run (``runs.engine.metrics``) and the analysis call it.
"""
