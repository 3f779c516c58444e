"""Why: everything logbridge adapts of Kafka and aiokafka lives in this room — reading
batches whole (fetching, framing), where a new group starts (starting), what a fetched
record is (consumed), the transactional producer and dead letters (transactions), the
core's record batches (batching) and the offsets-with-metadata a commit carries
(offsets). It imports neither the pipeline nor the sinks."""
