"""Client construction for Kafka and Elasticsearch from the shared settings.

Why: every network client offers TLS and SASL / basic / API-key auth the same way
(secure by default), and settings → client keyword translation belongs in one place,
away from the pipeline.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from aiokafka.helpers import create_ssl_context

from vnbridge.clientsettings import ElasticsearchSettings, KafkaSettings

if TYPE_CHECKING:  # the client library is imported only when a sink needs it
    from elasticsearch import AsyncElasticsearch

__all__ = ["elasticsearch_client", "kafka_kwargs"]


def kafka_kwargs(k: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments shared by AIOKafkaConsumer / AIOKafkaProducer / admin client."""
    out: dict[str, Any] = {
        "bootstrap_servers": k.bootstrap_servers,
        "client_id": k.client_id,
        "security_protocol": k.security_protocol,
    }
    if k.security_protocol in ("SSL", "SASL_SSL"):
        ctx = create_ssl_context(
            cafile=str(k.tls.ca_file) if k.tls.ca_file else None,
            certfile=str(k.tls.cert_file) if k.tls.cert_file else None,
            keyfile=str(k.tls.key_file) if k.tls.key_file else None,
        )
        if not k.tls.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        out["ssl_context"] = ctx
    if k.security_protocol.startswith("SASL"):
        out["sasl_mechanism"] = k.sasl_mechanism or "PLAIN"
        out["sasl_plain_username"] = k.sasl_username
        out["sasl_plain_password"] = k.sasl_password.get_secret_value()
    return out


def elasticsearch_client(es: ElasticsearchSettings, *, timeout_s: float = 30.0) -> AsyncElasticsearch:
    from elasticsearch import AsyncElasticsearch
    from elasticsearch.serializer import OrjsonSerializer

    kwargs: dict[str, Any] = {
        "hosts": es.hosts,
        "request_timeout": timeout_s,
        "max_retries": 0,  # retries are ours: capped backoff with jitter, per item
        "retry_on_timeout": False,
        "verify_certs": es.verify_certs,
        # answers (a status per bulk item) are parsed with orjson, not the stdlib
        "serializer": OrjsonSerializer(),
    }
    if es.ca_file is not None:
        kwargs["ca_certs"] = str(es.ca_file)
    if es.api_key.get_secret_value():
        kwargs["api_key"] = es.api_key.get_secret_value()
    elif es.username:
        kwargs["basic_auth"] = (es.username, es.password.get_secret_value())
    return AsyncElasticsearch(**kwargs)
