# vnbridge: one image, three commands (logbridge, vnbridge-discovery, metricsbridge).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY discovery discovery
COPY logbridge logbridge
COPY metricsbridge metricsbridge
COPY simulator simulator
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
USER 65532:65532
ENTRYPOINT []
CMD ["logbridge", "--help"]
