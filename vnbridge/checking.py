"""``<cli> check --connect``: try each configured endpoint once and say what answered.

Why: like ``filebeat test output``, an SRE wiring credentials, CAs and addresses wants
one command that connects with exactly the settings a service would use and names
what is wrong (unreachable, TLS, authentication, permission) before a rollout, rather
than a crash-looping pod. Each probe returns a value, never raises: the report prints
one line per endpoint and the CLI exits 2 when any failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from vnbridge.clientsettings import KubeSettings

if TYPE_CHECKING:  # the Kubernetes client loads only when a service watches
    from kubernetes.client import ApiClient

__all__ = ["Check", "answering_api", "check_kube", "render", "run_checks"]


class Check(NamedTuple):
    """One endpoint's answer: ``ok`` with what it showed, or the cause and the fix."""

    endpoint: str
    ok: bool
    detail: str
    usable: bool = False  # failed, yet a service can run with it (e.g. a privilege only the check needs)


Probe = Callable[[], Awaitable[Check]]


def run_checks(probes: Sequence[Probe], *, timeout_s: float) -> list[Check]:
    """Run the probes concurrently, each bounded by ``timeout_s``."""

    async def bounded(probe: Probe, n: int) -> Check:
        try:
            return await asyncio.wait_for(probe(), timeout_s)
        except TimeoutError:
            return Check(f"endpoint #{n + 1}", False, f"no answer within {timeout_s:.0f}s")

    async def every() -> list[Check]:
        return list(await asyncio.gather(*(bounded(p, n) for n, p in enumerate(probes))))

    return asyncio.run(every())


def render(checks: Sequence[Check]) -> tuple[list[str], list[str]]:
    """(lines for stdout, one line per failure for stderr)."""
    out = [f"{c.endpoint} ... {'OK' if c.ok else 'ERROR'}: {c.detail}" for c in checks]
    return out, [f"{c.endpoint}: {c.detail}" for c in checks if not c.ok]


async def check_kube(kube: KubeSettings) -> Check:
    """The API server answers ``/version`` and lets these credentials list pods."""
    from kubernetes.client import CoreV1Api, VersionApi
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError as Urllib3Error

    from vnbridge.kube import KubeConfigError, api_client

    try:
        api = api_client(kube)
    except KubeConfigError as exc:
        return Check("kubernetes", False, f"{exc}; check kube.kubeconfig / kube.context")
    where = f"kubernetes {api.configuration.host}"

    def probe() -> Check:
        try:
            version = VersionApi(api).get_code(_request_timeout=10).git_version
            CoreV1Api(api).list_pod_for_all_namespaces(limit=1, _request_timeout=10)
        except ApiException as exc:
            fix = {
                401: "the credentials were refused: check the token / client certificate",
                403: "authenticated but may not list pods: apply the chart's ClusterRole",
            }.get(exc.status, "check kube.kubeconfig")
            # it answered: a service runs on, readiness false, and retries (RBAC can be fixed live)
            return Check(where, False, f"HTTP {exc.status} {exc.reason}; {fix}", usable=True)
        except (Urllib3Error, OSError) as exc:
            return Check(where, False, f"{_cause(exc)}; check the server address, its CA and that it is up")
        finally:
            api.close()  # type: ignore[no-untyped-call]
        return Check(where, True, f"{version}, may list pods")

    return await asyncio.to_thread(probe)


async def answering_api(kube: KubeSettings) -> ApiClient:
    """The API client a service watches with, once the server has answered. At start-up
    an API server that does not answer at all (wrong address, CA, down) is a setup
    problem: ``KubeConfigError`` with the cause and the fix, so the CLI says it in one
    line and exits 2. One that answers with an error (401/403/5xx) is not: the watch
    reports it, keeps readiness false and retries."""
    from vnbridge.kube import KubeConfigError, api_client

    found = await check_kube(kube)
    if not (found.ok or found.usable):
        raise KubeConfigError(f"{found.endpoint}: {found.detail}")
    return api_client(kube)


def _cause(exc: BaseException) -> str:
    """The innermost reason of a wrapped connection error, in one line."""
    while True:
        inner = getattr(exc, "reason", None) or exc.__cause__ or exc.__context__
        if not isinstance(inner, BaseException) or inner is exc:
            break
        exc = inner
    return " ".join(f"{type(exc).__name__}: {exc}".split())
