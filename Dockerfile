# vnbridge: one image, three commands (logbridge, vnbridge-discovery, metricsbridge).
#
# Builder stage: the compiled core (core/, PyO3 + maturin) needs cargo and a C compiler
# (mimalloc); both stages are Debian bookworm, so the wheel's glibc matches the runtime.
# The base images are pinned by tag; pin them by digest in your registry's mirror
# (docs/upgrading.md) — this repository cannot resolve a digest from here.
FROM rust:1-slim-bookworm AS rust

FROM python:3.11-slim-bookworm AS build
COPY --from=rust /usr/local/cargo /usr/local/cargo
COPY --from=rust /usr/local/rustup /usr/local/rustup
ENV CARGO_HOME=/usr/local/cargo RUSTUP_HOME=/usr/local/rustup PATH=/usr/local/cargo/bin:$PATH
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md LICENSE requirements.lock ./
COPY core core
COPY vnbridge vnbridge
COPY discovery discovery
COPY logbridge logbridge
COPY metricsbridge metricsbridge
COPY simulator simulator
# the dependencies exactly as locked (versions and hashes: make lock), then the abi3
# wheel of vnbridge (Python packages + vnbridge_core) without resolving anything again
RUN pip install --no-cache-dir --prefix=/install --require-hashes --no-deps -r requirements.lock \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && pip install --no-cache-dir --prefix=/install --no-deps /wheels/*.whl

FROM python:3.11-slim-bookworm
COPY --from=build /install /usr/local
USER 65532:65532
ENTRYPOINT []
CMD ["logbridge", "--help"]
